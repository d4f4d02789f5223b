"""How much memory a render needs, and so how many images a batch can hold.

An image in flight holds its activations on the way to the deepest layer a step reads,
their pre-activations and gradients, and the convolutions' workspace: a measured multiple
of the forward activations. ``batch_size: auto`` and the check before a render (a batch
that cannot fit is refused with the estimate) both use this one estimate.
"""

from __future__ import annotations

from .hardware import Device, available_memory

# An image in flight holds its activations, their pre-ReLU values and their gradients,
# plus the workspace of the convolutions: about this many times the forward activations
# (measured by `make bench` as peak RSS per image on InceptionV1 up to Mixed_4b).
MEMORY_PER_ACTIVATION_BYTE = 4
# Use at most this share of the free memory, leaving room for the model and the rest.
MEMORY_SHARE = 0.5
# Beyond these batches throughput stops rising (CPU: measured by `make bench`).
LARGEST_AUTO_BATCH = {"cpu": 32, "gpu": 256}


def auto_batch_size(activation_bytes: int, available_bytes: int, device_kind: str) -> int:
    """The batch size ``batch_size: auto`` picks: as many images as fit in a share of the
    device's free memory, at most where throughput stops rising."""
    per_image = max(1, activation_bytes * MEMORY_PER_ACTIVATION_BYTE)
    fits = int(available_bytes * MEMORY_SHARE // per_image)
    return max(1, min(fits, LARGEST_AUTO_BATCH[device_kind]))


def batch_size_of(job, network, device: Device) -> tuple[int, str | None]:
    """The number of images ``job`` renders at once, and for ``batch_size: auto`` a line
    saying how it was chosen."""
    if job.spec.batch_size != "auto":
        return job.spec.batch_size, None
    size = job.settings.size
    per_image = seen_activation_bytes(job, network)
    available = available_memory(device)
    chosen = auto_batch_size(per_image, available, device.kind)
    note = (f"batch_size auto -> {chosen} (about {per_image / 2**20:.0f} MiB of "
            f"activations per image at {size}px; {available / 2**30:.1f} GiB free on "
            f"{device.name.strip('/')})")
    return chosen, note


def seen_activation_bytes(job, network) -> int:
    """Bytes of the activations one image of ``job`` makes in a step: those of each view
    of it the network sees (one, or MACO's crops), at the size it sees them."""
    transforms, size = job.settings.transforms, job.settings.size
    view = transforms.view_size(size, network.native_size)
    return transforms.views * network.activation_bytes(job.layers_read, view)


def image_memory(job, network) -> int:
    """Estimated bytes one image of ``job`` holds while rendering: its activations at the
    size the network sees, times the factor measured for gradients and workspace."""
    return seen_activation_bytes(job, network) * MEMORY_PER_ACTIVATION_BYTE


def memory_problem(job, network, device: Device) -> str | None:
    """Why ``job`` cannot fit in the device's memory at its batch size and image size (by
    the same estimate that batch_size: auto uses), or None."""
    per_image = image_memory(job, network)
    requested = 1 if job.spec.batch_size == "auto" else job.spec.batch_size
    images = max(job.images_per_unit, min(requested, len(job.units) * job.images_per_unit))
    available = available_memory(device)
    if per_image * images <= available:
        return None
    return (f"a batch of {images} image(s) at {job.settings.size}px needs about "
            f"{per_image * images / 2**30:.1f} GiB (estimated), and {available / 2**30:.1f} "
            f"GiB is free on {device.name.strip('/')}; lower batch_size or size")


class OutOfMemory(RuntimeError):
    """A batch did not fit in memory even at half its size; ``str()`` is the line to show."""


def out_of_memory_message(job, network, images: int, device: Device) -> str:
    """The line to show when a batch of ``images`` images of ``job`` ran out of memory."""
    per_image = image_memory(job, network)
    return (f"{job.name}: out of memory rendering a batch of {images} image(s) at "
            f"{job.settings.size}px on {device.name.strip('/')} (estimated "
            f"{per_image * images / 2**30:.1f} GiB); lower --batch-size or the size")
