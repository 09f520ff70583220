"""The CPU's name, as sidecars, benchmarks and build caches record it (the machines change between
sessions; every timing and every compiled kernel names the CPU it belongs to)."""
from __future__ import annotations

import platform


def cpu_id() -> str:
    """'AMD EPYC 9R14 ...' from /proc/cpuinfo; elsewhere the platform's processor or machine name."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


__all__ = ["cpu_id"]
