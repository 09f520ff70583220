"""Fast engine: the exact GEMM decomposition of a decomposable table (DESIGN.md section 4).

A table T decomposes when, for every weight pattern w and activation pattern x,

    T(w, x) = [w != 0][x != 0] * ( w*x - sum_{i<P} E_i(w) * b_i(x) + K(w) )

with b_i(x) bit i of the activation's byte. For the masking schemes the error is bilinear in
the operand bits, so this holds with E_i(w) = sum_{c in M, c >= i} 2^c a_{c-i}(w) and K the
bias compensation. The fit is read off 9 columns of T and then checked on all 65,536 entries;
a table that does not decompose is refused (the caller falls back to a LUT engine).

A convolution then is ONE integer GEMM over concatenated planes:

    A = [ x | -b_0 .. -b_{P-1} | (x != 0) ]               int8 [M, K*(P+2)]   (M = N*OH*OW)
    B = [ w ; E_0 - 128 .. E_{P-1} - 128 ; K - 128 ]       int8 [K*(P+2), O]
    out = A @ B  - 128 * sum(b planes) + 128 * sum(x != 0)  (per output position)

The -128 offsets put E_i, K (0..255) into int8; their correction is a box sum of the
activation planes, independent of the output channel. torch._int_mm computes int8 x int8 ->
int32 exactly (|partial sums| < 2^31 by construction: K*(P+2)*128*128 << 2^31 for any CNN layer
here; checked). Tables whose E or K do not fit 0..255 use exact float64 GEMMs instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import check_inputs

_V = torch.arange(256, dtype=torch.int64)
_V = torch.where(_V >= 128, _V - 256, _V)  # signed value of each byte pattern


@dataclass(frozen=True)
class Decomposition:
    planes: int              # P: activation bit planes that carry error (bits 0..P-1)
    E: torch.Tensor          # int64 [P, 256]: error weight of bit i for each weight pattern
    K: torch.Tensor          # int64 [256]: constant added when both operands are non-zero
    int8: bool               # E and K fit 0..255: the int8 GEMM path applies

    @property
    def exact(self) -> bool:
        return self.planes == 0 and not bool(self.K.any())


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
    fits = bool((E.numel() == 0 or (E.min() >= 0 and E.max() <= 255)) and K.min() >= 0 and K.max() <= 255)
    return Decomposition(planes=planes, E=E, K=K, int8=fits)


_dec_cache: dict = {}


def decomposition_for(lut: torch.Tensor) -> Decomposition | None:
    key = (lut.data_ptr(), lut.dtype, lut.device, lut._version)
    if key not in _dec_cache:
        if len(_dec_cache) > 512:
            _dec_cache.clear()
        _dec_cache[key] = decompose(lut)
    return _dec_cache[key]


@dataclass
class PreparedWeights:
    """The weight side of the GEMM for one (layer, level): cache it, it only changes with them."""
    B: torch.Tensor          # int8 or float64 [K*(P+2), O] (or [K, O] for an exact table)
    dec: Decomposition
    shape: tuple


def prepare(w: torch.Tensor, dec: Decomposition) -> PreparedWeights:
    o = w.shape[0]
    wf = w.reshape(o, -1)                                   # [O, K] int8
    if dec.exact:
        B = wf.T.contiguous()
        return PreparedWeights(B=B, dec=dec, shape=tuple(w.shape))
    wu = wf.to(torch.int64) & 0xFF
    E = dec.E.to(w.device)[:, wu]                           # [P, O, K]
    Kw = dec.K.to(w.device)[wu]                             # [O, K]
    if dec.int8:
        parts = [wf.T] + [(E[i] - 128).to(torch.int8).T for i in range(dec.planes)] + [(Kw - 128).to(torch.int8).T]
    else:
        parts = [wf.T.double()] + [E[i].double().T for i in range(dec.planes)] + [Kw.double().T]
    return PreparedWeights(B=torch.cat(parts, dim=0).contiguous(), dec=dec, shape=tuple(w.shape))


def _im2col(x: torch.Tensor, kh: int, kw: int, s, p) -> torch.Tensor:
    """int8 [N, C, H, W] -> [N*OH*OW, C*KH*KW], rows in (n, oy, ox) order."""
    if any(p):
        x = torch.nn.functional.pad(x, (p[1], p[1], p[0], p[0]))
    u = x.unfold(2, kh, s[0]).unfold(3, kw, s[1])          # [N, C, OH, OW, KH, KW]
    n, c, oh, ow = u.shape[:4]
    return u.permute(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)


def _mm_int8(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.device.type == "cuda":
        # CUDA's int8 GEMM wants M > 16 and K, N multiples of 8: pad with zeros (exact).
        m, k = a.shape
        n = b.shape[1]
        pm, pk, pn = max(0, 17 - m), (-k) % 8, (-n) % 8
        if pm or pk or pn:
            a = torch.nn.functional.pad(a, (0, pk, 0, pm))
            b = torch.nn.functional.pad(b, (0, pn, 0, pk))
            return torch._int_mm(a, b)[:m, :n]
    return torch._int_mm(a, b)


def conv(x: torch.Tensor, w: torch.Tensor, lut: torch.Tensor, stride=1, padding=0,
         prepared: PreparedWeights | None = None) -> torch.Tensor:
    x, w, lut, s, p, (oh, ow) = check_inputs(x, w, lut, stride, padding)
    dec = prepared.dec if prepared is not None else decomposition_for(lut)
    if dec is None:
        raise ValueError("this LUT does not decompose exactly; use engine 'c', 'cuda' or 'reference'")
    if prepared is None:
        prepared = prepare(w, dec)
    n, o = x.shape[0], w.shape[0]
    kh, kw = w.shape[2], w.shape[3]
    cols = _im2col(x, kh, kw, s, p)                          # int8 [M, K]
    if dec.exact:
        out = _mm_int8(cols, prepared.B)
    else:
        xu = cols.view(torch.uint8)
        shifts = torch.arange(dec.planes, dtype=torch.uint8, device=x.device)
        bits = (xu[:, None, :] >> shifts[None, :, None]) & 1  # [M, P, K] uint8
        nz = (cols != 0)
        if dec.int8:
            a = torch.cat([cols, (-bits.to(torch.int8)).reshape(cols.shape[0], -1), nz.to(torch.int8)], dim=1)
            out = _mm_int8(a, prepared.B)
            corr = 128 * (nz.sum(dim=1, dtype=torch.int32) - bits.sum(dim=(1, 2), dtype=torch.int32))
            out = out + corr[:, None]
        else:
            a = torch.cat([cols.double(), (-bits.double()).reshape(cols.shape[0], -1), nz.double()], dim=1)
            out = (a @ prepared.B).round().to(torch.int32)   # exact: |sums| << 2^53
    return out.reshape(n, oh, ow, o).permute(0, 3, 1, 2).contiguous()
