"""CUDA engine: the LUT-gather convolution as a CUDA kernel (csrc/lutconv.cu), built with nvcc into a
shared library (static cudart) on first use and called through cffi with torch's device pointers
on torch's current stream. Needs a GPU to run; `python -m emulator.engines.cuda` compiles only.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import torch
import torch.nn.functional as F

from .base import Engine, check_inputs, lut32, register
from .build import build_dir, build_lock

SRC = Path(__file__).resolve().parents[1] / "csrc" / "lutconv.cu"
CDEF = """int lutconv_cuda(const void *xpad, const void *w, const void *lut, void *out,
                       int N, int C, int HP, int WP, int O, int KH, int KW, int SH, int SW,
                       int OH, int OW, void *stream);
const char *lutconv_cuda_error(int code);"""
# SASS for Ampere/Ada/Hopper plus PTX, so newer GPUs JIT-compile it
ARCHS = ["-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_86,code=sm_86",
         "-gencode=arch=compute_89,code=sm_89", "-gencode=arch=compute_90,code=sm_90",
         "-gencode=arch=compute_90,code=compute_90"]
_lib = None


class CudaUnavailable(RuntimeError):
    pass


def nvcc() -> str | None:
    return shutil.which(os.environ.get("NVCC", "nvcc"))


def compile_library() -> Path:
    """Build (or find) the shared library; needs nvcc but no GPU."""
    exe = nvcc()
    key = hashlib.sha256(SRC.read_bytes() + repr(ARCHS).encode()).hexdigest()[:12]
    out = build_dir() / "cuda" / key
    so = out / "liblutconv_cuda.so"
    if so.is_file():
        return so
    if exe is None:
        raise CudaUnavailable("nvcc not found: the CUDA engine is compiled on first use; install the CUDA "
                              "toolkit or use engine='fast' (runs on CUDA through torch) / 'reference'")
    out.mkdir(parents=True, exist_ok=True)
    with build_lock(out / ".lock"):
        if not so.is_file():
            tmp = out / f"tmp-{os.getpid()}.so"
            cmd = [exe, "-O3", "-shared", "-Xcompiler", "-fPIC", "-cudart", "static", *ARCHS, "-o", str(tmp), str(SRC)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"nvcc failed to compile {SRC.name}:\n{r.stderr[-4000:]}")
            os.replace(tmp, so)
    return so


def load():
    global _lib
    if _lib is None:
        import cffi
        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        _lib = (ffi, ffi.dlopen(str(compile_library())))
    return _lib


@register
class CudaEngine(Engine):
    """The LUT gather as a CUDA kernel; any table, tensors on a GPU."""
    name = "cuda"

    def conv(self, x, w, lut, stride=1, padding=0, prepared=None):
        return conv(x, w, lut, stride, padding)

    def accepts(self, lut, device):
        if device.type != "cuda":
            return False
        try:
            load()
            return True
        except Exception:  # no nvcc, or it failed: auto falls back to another engine
            return False


def conv(x: torch.Tensor, w: torch.Tensor, lut: torch.Tensor, stride=1, padding=0) -> torch.Tensor:
    x, w, lut, s, p, (oh, ow) = check_inputs(x, w, lut, stride, padding)
    if x.device.type != "cuda":
        raise ValueError(f"the CUDA engine needs tensors on a GPU; they are on {x.device} (use engine='c' or 'fast')")
    ffi, lib = load()
    xpad = F.pad(x, (p[1], p[1], p[0], p[0])).contiguous() if any(p) else x
    l32 = lut32(lut, x.device)
    n, c, hp, wp = xpad.shape
    o, _, kh, kw = w.shape
    out = torch.empty(n, o, oh, ow, dtype=torch.int32, device=x.device)
    stream = torch.cuda.current_stream(x.device).cuda_stream
    with torch.cuda.device(x.device):
        rc = lib.lutconv_cuda(ffi.cast("void *", xpad.data_ptr()), ffi.cast("void *", w.data_ptr()),
                              ffi.cast("void *", l32.data_ptr()), ffi.cast("void *", out.data_ptr()),
                              n, c, hp, wp, o, kh, kw, s[0], s[1], oh, ow, ffi.cast("void *", stream))
    if rc != 0:
        raise RuntimeError(f"CUDA LUT convolution failed: {ffi.string(lib.lutconv_cuda_error(rc)).decode()}")
    return out


if __name__ == "__main__":
    print(compile_library())
