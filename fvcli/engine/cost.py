"""What rendering costs, in FLOPs: the one formula that shards, status, validate's time
estimate and the bench all use.

One image-step costs twice the forward FLOPs from the image to the deepest layer the step
reads (the objective's layers and those of the terms that couple a unit's images), at the
render size (or, for MACO's crops, that of each crop the network sees): the forward pass,
and the gradient back to the image. A unit costs that for
each of its images (diversity samples and their reference, interpolation frames) at each
step.
"""

from __future__ import annotations


def layer_step_flops(network, layer: str, size: int) -> float:
    """FLOPs of one image-step that reads ``layer`` of ``size`` px images: forward to it,
    and back."""
    return 2.0 * network.forward_flops(layer, size)


def image_step_flops(job, network) -> float:
    """FLOPs of one image-step of ``job`` (a planned job): to the deepest layer it reads,
    for each view of the image the network sees (MACO's crops: several a step)."""
    transforms, size = job.settings.transforms, job.settings.size
    view = transforms.view_size(size, network.native_size)
    return transforms.views * max(layer_step_flops(network, layer, view)
                                  for layer in job.layers_read)


def unit_flops(job, network) -> float:
    """FLOPs of rendering one unit of ``job``: every image of it, every step."""
    return job.images_per_unit * job.settings.steps * image_step_flops(job, network)


def job_flops(job, network) -> float:
    """FLOPs of rendering every unit of ``job``."""
    return len(job.units) * unit_flops(job, network)


def batch_speed(job, network, image_steps: int, seconds: float) -> float:
    """GFLOP/s of ``image_steps`` of ``job`` done in ``seconds``."""
    return image_steps * image_step_flops(job, network) / max(seconds, 1e-9) / 1e9
