"""Which tables the fast engine can run: the exact decomposition of a LUT into an exact product,
activation bit planes times per-weight error terms, and a constant (see fast.py's module doc)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .tensor_cache import TensorCache

_V = torch.arange(256, dtype=torch.int64)
_V = torch.where(_V >= 128, _V - 256, _V)  # signed value of each byte pattern


@dataclass(frozen=True)
class Decomposition:
    planes: int              # P: activation bit planes that carry error (bits 0..P-1)
    E: torch.Tensor          # int64 [P, 256]: error weight of bit i for each weight pattern
    K: torch.Tensor          # int64 [256]: constant added when both operands are non-zero
    int8: bool               # E and K fit 0..255: the int8 GEMM path applies
    nonneg: bool = False     # for activations known >= 0 only (bit 7, the sign, is 0: its plane dropped)

    @property
    def exact(self) -> bool:
        return self.planes == 0 and not bool(self.K.any())


def _fits_int8(E: torch.Tensor, K: torch.Tensor) -> bool:
    """E and K fit 0..255: the int8 GEMM path applies."""
    return bool((E.numel() == 0 or (E.min() >= 0 and E.max() <= 255)) and K.min() >= 0 and K.max() <= 255)


def for_nonneg(dec: Decomposition) -> Decomposition:
    """The decomposition for activations that are all >= 0 (every convolution after a ReLU): their bit 7
    is 0, so its error plane contributes nothing and is dropped (P = 8 -> 7: one plane fewer in every
    route), and the float route may fold x into 7 bit planes instead of 8 (fast.py)."""
    planes = min(dec.planes, 7)
    E = dec.E[:planes].contiguous()
    return Decomposition(planes=planes, E=E, K=dec.K, int8=_fits_int8(E, dec.K), nonneg=True)


def decompose(lut: torch.Tensor) -> Decomposition | None:
    """Fit T = [w!=0][x!=0](w*x - sum E_i b_i + K); None unless it holds on all 65,536 entries."""
    t = lut.to(torch.int64).cpu()
    prod = _V[:, None] * _V[None, :]
    e = prod - t  # = sum_i E_i b_i - K where both operands are non-zero
    K = (e[:, 3] - e[:, 1] - e[:, 2])
    E = torch.stack([e[:, 1 << i] + K for i in range(7)] + [e[:, 128] + K])  # x = 2^i; x = -128 is bit 7
    nzw = (_V != 0)
    K = torch.where(nzw, K, 0)
    E = torch.where(nzw[None, :], E, 0)
    bits = ((torch.arange(256)[None, :] >> torch.arange(8)[:, None]) & 1)  # [8, 256] b_i(x)
    recon = prod - (E.T @ bits) + K[:, None]
    recon = recon * nzw[:, None] * nzw[None, :]
    if not torch.equal(recon, t):
        return None
    nonzero = (E != 0).any(dim=1).nonzero()
    planes = int(nonzero.max()) + 1 if nonzero.numel() else 0
    E = E[:planes].contiguous()
    return Decomposition(planes=planes, E=E, K=K, int8=_fits_int8(E, K))


_dec_cache = TensorCache(512)


def decomposition_for(lut: torch.Tensor) -> Decomposition | None:
    return _dec_cache.get(lut, decompose)
