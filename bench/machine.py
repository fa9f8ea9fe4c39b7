"""What the numbers were measured on: CPU, memory, load, and per-process resident memory."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_total_mb() -> float | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024
    return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_mb": round(mem_total_mb() or 0),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "host": platform.node(),
    }


def describe(info: dict[str, Any]) -> str:
    return (f"{info['nproc']} CPUs ({info['cpu_model']}), {info['mem_total_mb'] / 1024:.0f} GiB RAM, "
            f"Linux {info['kernel']}, Python {info['python']}")


def process_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MB (MiB), from /proc/<pid>/status."""
    values: dict[str, float] = {}
    for line in _read(f"/proc/{pid}/status").splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values
