"""What every engine computes, the Engine base class with its registry, and the input checks they share.

conv(x, w, lut, stride, padding) -> int32 accumulators [N, O, OH, OW] with
    out[n, o, y, x] = sum_{c, ky, kx} lut[uint8(w[o, c, ky, kx]), uint8(xpad[n, c, y*s + ky, x*s + kx])]
where xpad is x zero-padded (a padded position multiplies the weight by activation 0, as in
hardware fed with zero padding). x: int8 [N, C, H, W]; w: int8 [O, C, KH, KW]; lut: int16/int32 [256, 256].
The result's memory layout is the engine's choice (fast's VNNI kernel returns a channels-last view);
its values are the contract.

An engine is one module with one Engine subclass decorated with @register (and one import line
in engines/__init__.py). It implements conv(); prepare() and conv_float() have defaults that a
faster engine overrides (fast: cached weight planes, a fused quantize/convolve/dequantize route).
"""
from __future__ import annotations

import torch

from ..lut import check_table
from ..quant import to_int8
from .tensor_cache import TensorCache


def _pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(i) for i in v)
    if len(t) != 2:
        raise ValueError(f"expected an int or a pair, got {v!r}")
    return t  # type: ignore[return-value]


def check_inputs(x: torch.Tensor, w: torch.Tensor, lut: torch.Tensor, stride, padding, contiguous: bool = True):
    """Validate and normalise engine inputs: int8, 4-D, matching channels; contiguous unless the
    engine reads strides itself (contiguous=False)."""
    for name, t in (("activations", x), ("weights", w)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype != torch.int8:
            raise TypeError(f"{name} must be int8 (quantized operands), got {t.dtype}")
        if t.dim() != 4:
            raise ValueError(f"{name} must be 4-D, got shape {tuple(t.shape)}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"channel mismatch: activations have {x.shape[1]}, weights expect {w.shape[1]}")
    if x.device != w.device:
        raise ValueError(f"activations on {x.device} but weights on {w.device}")
    s, p = _pair(stride), _pair(padding)
    if min(s) < 1 or min(p) < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    oh = (x.shape[2] + 2 * p[0] - w.shape[2]) // s[0] + 1
    ow = (x.shape[3] + 2 * p[1] - w.shape[3]) // s[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"kernel {tuple(w.shape[2:])} larger than padded input {tuple(x.shape[2:])}")
    if contiguous:
        x, w = x.contiguous(), w.contiguous()
    return x, w, check_table(lut), s, p, (oh, ow)


_lut32_cache = TensorCache(64)


def lut32(lut: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """The table as contiguous int32 on `device` (32-bit gathers vectorise; kernels take int32),
    cached per table and device."""
    device = torch.device(device)
    if lut.dtype == torch.int32 and lut.device == device:
        return lut.contiguous()
    return _lut32_cache.get(lut, lambda t: t.to(device=device, dtype=torch.int32).contiguous(), str(device))


class Engine:
    """One way to compute the LUT convolution. Subclasses set `name` and implement conv()."""

    name: str = ""

    def conv(self, x: torch.Tensor, w: torch.Tensor, lut: torch.Tensor, stride=1, padding=0,
             prepared=None) -> torch.Tensor:
        """int32 accumulators (the contract above); `prepared` is what prepare() returned."""
        raise NotImplementedError

    def accepts(self, lut: torch.Tensor, device: torch.device) -> bool:
        """Whether `auto` may pick this engine for this table on this device."""
        return True

    def prepare(self, w: torch.Tensor, lut: torch.Tensor):
        """The weight side of one (layer, level, device), cached by the layer; None: nothing to cache."""
        return None

    def conv_float(self, x: torch.Tensor, act_amax: torch.Tensor, w: torch.Tensor, w_scale: torch.Tensor,
                   lut: torch.Tensor, stride, padding, bias: torch.Tensor | None = None,
                   prepared=None, tail=None):
        """A layer's dequantized output: float activations to int8 with the static scale (act_amax),
        the LUT convolution of the int8 weights `w`, times s_act * s_w, plus the float bias. With a tail
        (engines/tail.py), the (z, u) it makes of that output."""
        xi, sx = to_int8(x, act_amax)
        acc = self.conv(xi, w, lut, stride, padding, prepared=prepared)
        y = dequantize(acc, sx * w_scale, bias, x.dtype)
        return y if tail is None else tail.apply(y)

    def __repr__(self) -> str:
        return f"<engine {self.name}>"


def dequantize(acc: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    """int32 accumulators -> acc * s_act * s_w (+ the float bias)."""
    y = acc.to(dtype) * scale.to(dtype)
    if bias is not None:
        y = y + bias.detach().view(1, -1, 1, 1)
    return y


REGISTRY: dict[str, Engine] = {}


def register(cls: type[Engine]) -> type[Engine]:
    """Class decorator: one instance per engine, found by name."""
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"engine name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls()
    return cls
