"""C engine: the LUT-gather convolution in C (csrc/lutconv.c), wrapped with cffi, OpenMP across cores.

Compiled on first use into build/cffi/ (keyed by source, flags and CPU), or ahead of time with
`python -m emulator.engines.c`. AXX_C_SANITIZE=address builds an AddressSanitizer variant (the
process must then preload libasan: see tests/test_engines.py).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import platform
import shutil
import threading
from pathlib import Path

import torch
import torch.nn.functional as F

from .base import check_inputs, lut32

CSRC = Path(__file__).resolve().parents[1] / "csrc"
SOURCES = (CSRC / "lutconv.c", CSRC / "planeconv.c")  # one library: the LUT engine, the fast path's kernels
CDEF = """int lutconv(const uint8_t *xpad, const uint8_t *w, const int32_t *lut, int32_t *out,
                   int N, int C, int HP, int WP, int O, int KH, int KW, int SH, int SW,
                   int OH, int OW, int nthreads);
int im2col_planes(const int8_t *x, int8_t *work, int8_t *a, int32_t *corr, int N, int C, int H, int W,
                  int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW, int P, int nthreads);
int planeconv_supported(void);
int planeconv_planes(const int8_t *x, const float *xf, float scale, long sn, long sc, long sh, long sw,
                     uint8_t *work, int32_t *pix, int N, int C, int H, int W, int PH, int PW, int P, int KC,
                     int nthreads);
int planeconv_gemm(const uint8_t *work, const int32_t *pix, const int8_t *bp, const int32_t *wconst,
                   int32_t *out, float *outf, float fscale, const float *bias, int N, int HP, int WP, int KC, int O, int OBN, int KH, int KW, int SH, int SW,
                   int OH, int OW, int nthreads);"""
_lib = None


class CompilerMissing(RuntimeError):
    pass


def _cpu_id() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _flags() -> tuple[list[str], list[str]]:
    # no FMA contraction: the fast path's dequantization must round like torch's mul then add
    cflags, ldflags = ["-O3", "-march=native", "-ffp-contract=off", "-fopenmp", "-std=gnu99"], ["-fopenmp"]
    if os.environ.get("AXX_C_SANITIZE") == "address":
        cflags = ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer", "-fopenmp", "-std=gnu99"]
        ldflags = ["-fsanitize=address", "-fopenmp"]
    return cflags, ldflags


def build_dir() -> Path:
    root = os.environ.get("AXX_BUILD_DIR")
    return Path(root) if root else Path(__file__).resolve().parents[2] / "build"


def load():
    """The compiled library (built on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    import cffi

    cflags, ldflags = _flags()
    source = "\n".join(f.read_text() for f in SOURCES)
    key = hashlib.sha256(source.encode() + repr((cflags, ldflags, _cpu_id())).encode()).hexdigest()[:12]
    modname = f"_axx_lutconv_{key}"
    out = build_dir() / "cffi" / key
    so = next(out.glob(f"{modname}*.so"), None) if out.is_dir() else None
    if so is None:
        cc = os.environ.get("CC", "cc")
        if shutil.which(cc) is None:
            raise CompilerMissing(f"no C compiler ({cc}) found: the C engine is compiled on first use; "
                                  "install gcc (e.g. `apt-get install -y gcc`) or use engine='fast'/'reference'")
        out.mkdir(parents=True, exist_ok=True)
        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        ffi.set_source(modname, source, extra_compile_args=cflags, extra_link_args=ldflags)
        with _lock(out / ".lock"):
            so = next(out.glob(f"{modname}*.so"), None)
            if so is None:
                tmp = out / f"tmp-{os.getpid()}"
                try:
                    built = Path(ffi.compile(tmpdir=str(tmp), verbose=False))
                except Exception as e:  # cffi wraps the compiler's failure
                    raise RuntimeError(f"compiling the C engine failed: {e}") from None
                so = out / built.name
                os.replace(built, so)
                shutil.rmtree(tmp, ignore_errors=True)
    spec = importlib.util.spec_from_file_location(modname, so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _lib = mod
    return mod


@contextlib.contextmanager
def _lock(path: Path):
    import fcntl
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def conv(x: torch.Tensor, w: torch.Tensor, lut: torch.Tensor, stride=1, padding=0) -> torch.Tensor:
    x, w, lut, s, p, (oh, ow) = check_inputs(x, w, lut, stride, padding)
    if x.device.type != "cpu":
        raise ValueError(f"the C engine runs on the CPU; tensors are on {x.device} (use engine='cuda' or 'fast')")
    lib = load()
    xpad = F.pad(x, (p[1], p[1], p[0], p[0])).contiguous().view(torch.uint8) if any(p) else x.view(torch.uint8)
    wu = w.view(torch.uint8)
    l32 = lut32(lut)
    n, c, hp, wp = xpad.shape
    o, _, kh, kw = wu.shape
    out = torch.empty(n, o, oh, ow, dtype=torch.int32)
    ffi = lib.ffi
    rc = lib.lib.lutconv(ffi.cast("uint8_t *", xpad.data_ptr()), ffi.cast("uint8_t *", wu.data_ptr()),
                         ffi.cast("int32_t *", l32.data_ptr()), ffi.cast("int32_t *", out.data_ptr()),
                         n, c, hp, wp, o, kh, kw, s[0], s[1], oh, ow, torch.get_num_threads())
    if rc != 0:
        raise RuntimeError(f"lutconv rejected the shapes (code {rc})")
    return out


_ws = threading.local()


def workspace(name: str, numel: int) -> torch.Tensor:
    """A reusable int8 buffer per thread: fresh 100 MB allocations cost more in page faults
    (measured 4x) than the kernel that fills them."""
    buf = getattr(_ws, name, None)
    if buf is None or buf.numel() < numel:
        buf = torch.empty(max(numel, int(numel * 1.25)), dtype=torch.int8)
        setattr(_ws, name, buf)
    return buf[:numel]


def im2col_planes(x: torch.Tensor, kh: int, kw: int, s, p, oh: int, ow: int,
                  planes: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Plane extraction + im2col for the fast engine (see csrc/lutconv.c); planes = -1 for x only.
    Returns A, int8 [N*OH*OW, KH*KW*(planes+2)*C] (a view of this thread's workspace, valid until
    the next call), and the per-pixel offset correction int32 [N, H, W] (None for planes = -1)."""
    lib = load()
    x = x.contiguous()
    n, c, h, w = x.shape
    np_ = 1 if planes < 0 else planes + 2
    a = workspace("a", n * oh * ow * kh * kw * np_ * c).view(n * oh * ow, kh * kw * np_ * c)
    work = workspace("work", n * h * w * np_ * c)
    corr = torch.empty(n, h, w, dtype=torch.int32) if planes >= 0 else None
    ffi = lib.ffi
    rc = lib.lib.im2col_planes(ffi.cast("int8_t *", x.data_ptr()), ffi.cast("int8_t *", work.data_ptr()),
                               ffi.cast("int8_t *", a.data_ptr()),
                               ffi.cast("int32_t *", corr.data_ptr()) if corr is not None else ffi.NULL,
                               n, c, h, w, kh, kw, s[0], s[1], p[0], p[1], oh, ow, planes, torch.get_num_threads())
    if rc != 0:
        raise RuntimeError(f"im2col_planes rejected the shapes (code {rc})")
    return a, corr


if __name__ == "__main__":
    print(load().__file__)
