"""The machine: which device renders, in which precision, with how much memory.

Reduced precision is TensorFlow's automatic mixed precision, a graph rewrite that runs
convolutions and matrix products in 16-bit floats and keeps the rest in float32: oneDNN's
bfloat16 rewrite on CPUs, the CUDA float16 rewrite on GPUs. The rewrite is chosen per call
(:func:`precision_scope`), so jobs of one run can differ in precision. Whatever the
precision, the image parameters and the Adam state stay float32: they live outside the
network, where the rewrite does not reach.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import tensorflow as tf

from .machine import HardwareError, available_ram, cpu_flags


DEVICE_PATTERN = re.compile(r"^(auto|cpu|gpu(:\d+)?)$")
_REWRITES = {"bf16": "auto_mixed_precision_onednn_bfloat16", "fp16": "auto_mixed_precision"}
# bf16 is native on CPUs with these flags (Intel Cooper Lake / Sapphire Rapids, AMD Zen 4).
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# fp16 tensor cores arrived with Volta (compute capability 7.0).
_GPU_FP16_CAPABILITY = (7, 0)


@dataclass(frozen=True)
class Device:
    """A TensorFlow device that renders: its name (``/CPU:0``, ``/GPU:1``) and kind."""

    name: str
    kind: str  # "cpu" or "gpu"

    def scope(self):
        """Context placing the ops built or called inside it on this device."""
        return tf.device(self.name)


def resolve_device(requested: str = "auto") -> Device:
    """``auto`` (the first GPU if TensorFlow sees one, else the CPU), ``cpu``, ``gpu`` or
    ``gpu:N`` -> a :class:`Device`; :class:`HardwareError` if it is not there."""
    requested = requested.lower()
    if not DEVICE_PATTERN.match(requested):
        raise HardwareError(f"unknown device {requested!r}; expected auto, cpu, gpu or gpu:N")
    gpus = tf.config.list_physical_devices("GPU")
    if requested == "cpu" or (requested == "auto" and not gpus):
        return Device("/CPU:0", "cpu")
    number = int(requested.split(":")[1]) if ":" in requested else 0
    if number >= len(gpus):
        seen = f"{len(gpus)} GPU(s)" if gpus else "no GPU"
        raise HardwareError(f"device {requested} is not available: TensorFlow sees {seen} "
                            "(is this a CUDA build of TensorFlow, and CUDA_VISIBLE_DEVICES "
                            "set?); use --device cpu")
    return Device(f"/GPU:{number}", "gpu")


def native_precision(device: Device) -> str:
    """The fastest precision the device computes natively: bf16, fp16 or fp32."""
    if device.kind == "cpu":
        return "bf16" if cpu_flags() & set(_CPU_BF16_FLAGS) else "fp32"
    index = int(device.name.rsplit(":", 1)[1])
    details = tf.config.experimental.get_device_details(
        tf.config.list_physical_devices("GPU")[index])
    capability = details.get("compute_capability") or (0, 0)
    return "fp16" if tuple(capability) >= _GPU_FP16_CAPABILITY else "fp32"


def resolve_precision(requested: str, device: Device) -> str:
    """``auto`` -> the device's native precision; bf16 and fp16 are checked against the
    device (bf16 is oneDNN's CPU rewrite, fp16 the CUDA one)."""
    if requested == "auto":
        return native_precision(device)
    if requested == "bf16" and device.kind != "cpu":
        raise HardwareError("precision bf16 runs on CPUs; on a GPU use fp16 (or auto)")
    if requested == "fp16" and device.kind != "gpu":
        raise HardwareError("precision fp16 needs a GPU; on a CPU use bf16 (or auto)")
    return requested


@contextlib.contextmanager
def precision_scope(precision: str):
    """Run the tf.function calls inside in ``precision``. TensorFlow optimises a function's
    graph when it is first called under a given configuration, so the mixed-precision
    rewrite applies to calls made here and to no others."""
    wanted = {option: _REWRITES.get(precision) == option for option in _REWRITES.values()}
    before = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options(wanted)
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options(
            {option: before.get(option, False) for option in wanted})


def available_memory(device: Device) -> int:
    """Bytes the device can give a render: free RAM on a CPU, the TensorFlow memory limit
    on a GPU."""
    if device.kind == "cpu":
        return available_ram()
    from tensorflow.python.client import device_lib

    for attributes in device_lib.list_local_devices():
        if attributes.name.upper().endswith(device.name.upper().lstrip("/")):
            return int(attributes.memory_limit)
    raise HardwareError(f"cannot read the memory of {device.name}")
