"""C engine: the LUT-gather convolution in C (csrc/lutconv.c), wrapped with cffi, OpenMP across cores.

Compiled on first use (build.load(): one library with the fast engine's kernels), or ahead of
time with `python -m emulator.engines.c`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Engine, check_inputs, lut32, register
from .build import load


@register
class CEngine(Engine):
    """The LUT gather in C on the CPU; any table."""
    name = "c"

    def conv(self, x, w, lut, stride=1, padding=0, prepared=None):
        return conv(x, w, lut, stride, padding)


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


if __name__ == "__main__":
    print(load().__file__)
