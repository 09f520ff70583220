"""What may follow a layer's dequantized output y in an eval forward (emulator/fusion.py's fused tails):
z = y (+ res, the residual add), then u = relu(z * alpha + beta) (eval batch norm and ReLU), each rounded as
torch rounds them. An engine applies it in its own output pass where it has one (fast's oneDNN route), else
apply() runs one C pass (planeconv_post) over y, or torch's operations where y is not channels-last."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .build import load


def _channels_last(t: torch.Tensor) -> bool:
    return t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)


@dataclass(frozen=True)
class Tail:
    """res: the residual (y's shape), or None; alpha, beta: the batch norm's terms ([C] float32), or None for the
    residual add alone; fused: 1 where torch rounds z * alpha + beta once (fma), 0 twice; keep: z is wanted
    besides u (u then gets its own memory; else it overwrites y); torch_ops: the same with torch's operations
    (y -> (z, u)), for outputs the C pass cannot take, and all of them where torch_only."""
    res: torch.Tensor | None
    alpha: torch.Tensor | None
    beta: torch.Tensor | None
    fused: int
    keep: bool
    torch_ops: Callable[[torch.Tensor], tuple] | None
    torch_only: bool = False

    def fits(self, y: torch.Tensor) -> bool:
        return (not self.torch_only and y.device.type == "cpu" and y.dtype == torch.float32 and _channels_last(y)
                and (self.res is None or (self.res.shape == y.shape and _channels_last(self.res))))

    def c_args(self, y: torch.Tensor) -> tuple:
        """(res, alpha, beta, fused, relu, u) for the C functions, and what to return: (z, u)."""
        lib = load()
        ptr = lambda t: lib.ffi.NULL if t is None else lib.ffi.cast("float *", t.data_ptr())  # noqa: E731
        u = None if self.alpha is None else (torch.empty_like(y) if self.keep else y)
        args = (ptr(self.res), ptr(self.alpha), ptr(self.beta), int(self.fused), 1, ptr(u))
        return args, ((y if self.keep or u is None else None), u)

    def apply(self, y: torch.Tensor) -> tuple:
        """(z, u) from y (written in place): z None unless keep, u None without a batch norm."""
        if not self.fits(y):
            return self.torch_ops(y)
        lib = load()
        n, c, h, w = y.shape
        args, out = self.c_args(y)
        rc = lib.lib.planeconv_post(lib.ffi.cast("float *", y.data_ptr()), *args, n * h * w, c,
                                    torch.get_num_threads())
        if rc != 0:
            raise RuntimeError(f"planeconv_post rejected the shapes (code {rc})")
        return out


__all__ = ["Tail"]
