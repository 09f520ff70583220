"""What the compiled engines share: the build folder, a cross-process build lock, the CPU's
identity (a library built with -march=native belongs to one CPU), per-thread workspaces, and the
one cffi library of C kernels (csrc/: the C engine's LUT gather and the fast engine's kernels).

The library is compiled on first use into build/cffi/<key> (keyed by source, flags and CPU).
AXX_C_SANITIZE=address builds an AddressSanitizer variant (the process must then preload
libasan: see the ASan test).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import threading
from pathlib import Path
from typing import Iterator

import torch

from fileio import cpu_id


def build_dir() -> Path:
    """$AXX_BUILD_DIR, else build/ at the top of this checkout."""
    root = os.environ.get("AXX_BUILD_DIR")
    return Path(root) if root else Path(__file__).resolve().parents[2] / "build"


@contextlib.contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Exclusive across processes: two workers that first use an engine at once build it once."""
    import fcntl
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_ws = threading.local()


def workspace(name: str, numel: int) -> torch.Tensor:
    """A reusable int8 buffer per thread: fresh 100 MB allocations cost more in page faults
    (measured 4x) than the kernel that fills them."""
    buf = getattr(_ws, name, None)
    if buf is None or buf.numel() < numel:
        buf = torch.empty(max(numel, int(numel * 1.25)), dtype=torch.int8)
        setattr(_ws, name, buf)
    return buf[:numel]


CSRC = Path(__file__).resolve().parents[1] / "csrc"
SOURCES = (CSRC / "lutconv.c", CSRC / "planeconv.c", CSRC / "planeconv_avx2.c", CSRC / "peak.c")  # one library: the LUT engine, the fast path's kernels, their peaks
HEADERS = (CSRC / "planeconv_common.h",)  # included by them: part of the library's identity
CDEF = """int lutconv(const uint8_t *xpad, const uint8_t *w, const int32_t *lut, int32_t *out,
                   int N, int C, int HP, int WP, int O, int KH, int KW, int SH, int SW,
                   int OH, int OW, int nthreads);
int im2col_planes(const int8_t *x, int8_t *work, int8_t *a, int32_t *corr, int N, int C, int H, int W,
                  int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW, int P, int nthreads);
int planeconv_supported(void);
int planeconv_planes(const int8_t *x, const float *xf, float scale, long sn, long sc, long sh, long sw,
                     uint8_t *work, int32_t *pix, int N, int C, int H, int W, int PH, int PW, int P, int KC,
                     int XOFF, int NONNEG, int nthreads);
int planeconv_gemm(const uint8_t *work, const int32_t *pix, const int8_t *bp, const int32_t *wconst,
                   int32_t *out, float *outf, float fscale, const float *bias, int N, int HP, int WP, int KC, int O, int OBN, int KH, int KW, int SH, int SW,
                   int OH, int OW, int nthreads);
int planeconv_epilogue(float *out, const int32_t *box, float fscale, const float *bias, const float *res,
                       const float *alpha, const float *beta, int fused, int relu, float *u, long P, int O,
                       int nthreads);
int planeconv_post(float *y, const float *res, const float *alpha, const float *beta, int fused, int relu,
                   float *u, long P, int O, int nthreads);
int planeconv_avx2_supported(void);
int planeconv_avx2_gemm(const uint8_t *work, const int32_t *pix, const int8_t *bp, int32_t *out, float *outf,
                        float fscale, const float *bias, int N, int HP, int WP, int KC, int NQX, int O, int KH,
                        int KW, int SH, int SW, int OH, int OW, int nthreads);
double planeconv_peak(int kind, long iters, int nthreads);
int float_planes(const int8_t *x, long sn, long sc, long sh, long sw, const float *table, int G, float *out,
                 int N, int C, int H, int W, int nthreads);"""
_lib = None


class CompilerMissing(RuntimeError):
    pass


def _flags() -> tuple[list[str], list[str]]:
    # no FMA contraction: the fast path's dequantization must round like torch's mul then add
    cflags, ldflags = ["-O3", "-march=native", "-ffp-contract=off", "-fopenmp", "-std=gnu99"], ["-fopenmp"]
    if os.environ.get("AXX_C_SANITIZE") == "address":
        cflags = ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer", "-fopenmp", "-std=gnu99"]
        ldflags = ["-fsanitize=address", "-fopenmp"]
    return cflags, ldflags


def load():
    """The compiled library (built on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    import cffi

    cflags, ldflags = _flags()
    source = "\n".join(f.read_text() for f in SOURCES)
    headers = "\n".join(f.read_text() for f in HEADERS)
    key = hashlib.sha256((source + headers).encode() + repr((cflags, ldflags, cpu_id())).encode()).hexdigest()[:12]
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
        ffi.set_source(modname, source, include_dirs=[str(CSRC)], extra_compile_args=cflags, extra_link_args=ldflags)
        with build_lock(out / ".lock"):
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
