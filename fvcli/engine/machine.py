"""What this machine is, read from /proc without TensorFlow: the CPU's name and features,
and the memory free for a render."""

from __future__ import annotations

import functools
import os
import platform


class HardwareError(ValueError):
    """A device or precision that this machine cannot provide; ``str()`` is the line to show."""


@functools.lru_cache(maxsize=None)
def cpu_info(field: str) -> str:
    """The value of ``field`` (e.g. "model name", "flags") of the first CPU in
    /proc/cpuinfo, or "" where there is none (not Linux). Read once: every batch's speed
    record names the machine."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                name, _, value = line.partition(":")
                if name.strip() == field:
                    return value.strip()
    except OSError:
        pass
    return ""


def cpu_name() -> str:
    """The CPU's model name, e.g. "AMD EPYC"."""
    return cpu_info("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's feature flags (avx512_bf16, amx_bf16, ...); empty where unknown."""
    return set(cpu_info("flags").split())


def machine_name() -> str:
    """The CPU model and core count: home folders are shared across a cluster's nodes,
    which need not be alike."""
    return f"{cpu_name()} x{os.cpu_count()}"


def available_ram() -> int:
    """Bytes of RAM free for a render (MemAvailable; half the RAM where unknown)."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
