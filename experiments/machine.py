"""What this machine offers, for routes that depend on it and for the record next to every timing."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import torch

from fileio import cpu_id


def native_bf16() -> bool:
    """bf16 arithmetic in hardware (AVX512-BF16 or AMX); elsewhere torch emulates it, slower than fp32."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_device(device: str) -> torch.device:
    """auto: the first CUDA GPU when torch sees one, else the CPU; cpu, cuda and cuda:N are checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}: use auto, cpu, cuda or cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} asked for, but torch sees {torch.cuda.device_count()} GPU(s)")
    return dev


def pace_key(device: torch.device | str) -> str:
    """Which machine a training's epochs ran on, for the pace a projection may reuse: the GPU's name, or the
    CPU's with torch's thread count (the same CPU with other threads runs at another pace)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {cpu_id()}, {torch.get_num_threads()} threads"


def device_label(device: torch.device | str) -> str:
    """The device a training ran on, as its sidecar says it. On a GPU, fp32 convolutions run in TF32 by
    PyTorch's default (as on the thesis's GPU); pace_key names the machine more closely, for timing."""
    dev = torch.device(device)
    return f"cuda ({torch.cuda.get_device_name(dev)}; TF32 convolutions)" if dev.type == "cuda" else "cpu"


_exact = {"depth": 0, "saved": None}
_exact_lock = threading.Lock()


@contextmanager
def exact_fp32():
    """Full fp32 in cuDNN's convolutions and cuBLAS's products for the duration (a decorator too): attacks
    and evaluations run under it, so that a GPU's sets and accuracies are the CPU's but for the order of float
    sums. PyTorch's default TF32 convolutions (which training keeps, as on the thesis's GPU) keep 10 mantissa
    bits: measured on an H100, an FGSM set from a quant ResNet-8 then differed from the CPU's in 3.3 % of
    its pixels (a quant network's rounding passes the last bits on to the gradient's sign), against 0.01 %
    without TF32. A no-op on the CPU. The flags are process-wide: the first of overlapping users (nested
    calls, a search's evaluation threads) turns them off, the last one out restores them."""
    with _exact_lock:
        if _exact["depth"] == 0:
            _exact["saved"] = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        _exact["depth"] += 1
    try:
        yield
    finally:
        with _exact_lock:
            _exact["depth"] -= 1
            if _exact["depth"] == 0:
                torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = _exact["saved"]


def synchronizer(device: torch.device | str):
    """A function that waits for the device's queued work (a GPU's kernels run asynchronously): what a timing
    needs around the timed code. A no-op on the CPU."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


def hardware() -> dict:
    """The CPU (and what it allows), cores, torch's threads and version, the GPU if any."""
    hw = {"cpu": cpu_id(), "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cores": os.cpu_count(),
          "avx512_vnni": bool(torch.cpu._is_vnni_supported()), "native_bf16": native_bf16(),
          "amx": bool(torch.cpu._is_amx_tile_supported()), "torch_threads": torch.get_num_threads(),
          "torch": torch.__version__}
    if torch.cuda.is_available():
        hw["gpu"] = torch.cuda.get_device_name()
    return hw


# (count of steps running, cores): set in the workers of `axx reproduce --jobs N`, whose runner keeps the count
def cores() -> int:
    """The cores this process may run on (a job scheduler's share, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def threads_per_worker(workers: int, of: int | None = None) -> int:
    """torch threads for each of `workers` processes sharing `of` cores (default cores()): each would otherwise
    start one thread per core, and their threads would contend."""
    return max(1, (of or cores()) // max(1, workers))


_CORE_SHARE: tuple | None = None


def share_cores(running, cores: int) -> None:
    """Make this process a worker that shares `cores` with the other steps running (`running`: a
    multiprocessing.Value of how many run now, kept by the runner); `rebalance_threads` then applies its share."""
    global _CORE_SHARE
    _CORE_SHARE = (running, cores)
    rebalance_threads()


def rebalance_threads() -> int:
    """In a worker of `axx reproduce --jobs N`: take cores / (steps running now) threads, so that a step left
    running alone (the tail of a chain of trainings) takes every core, and gives them back when another starts.
    Elsewhere nothing changes. Returns torch's thread count."""
    if _CORE_SHARE is not None:
        running, cores = _CORE_SHARE
        want = max(1, cores // max(1, running.value))
        if want != torch.get_num_threads():
            torch.set_num_threads(want)
    return torch.get_num_threads()


__all__ = ["cores", "device_label", "exact_fp32", "hardware", "native_bf16", "pace_key", "rebalance_threads",
           "resolve_device", "share_cores", "synchronizer", "threads_per_worker"]
