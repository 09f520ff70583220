"""Behavioural model of the masked Baugh-Wooley multipliers: the closed form, no circuit.

For a W-bit array the exact product is a*b. Masking column c (level bit c) removes the
value of every partial product in that column and, with bias compensation, adds back
2^c for the forced row-0 bit (c >= 2):

    approx(a, b) = a*b - sum_{c in M} 2^c * colsum_c(a, b) + comp * sum_{c in M, c>=2} 2^c

where colsum_c is the sum of the partial-product bits of column c: a_j*b_i for i+j = c,
inverted (1 - a_j*b_i) where exactly one of i, j is the sign position W-1 (modified
Baugh-Wooley). The result is the 2W-bit two's-complement pattern read as a signed number,
and 0 when a = 0 or b = 0 (zero-operand gating). Everything is vectorised numpy.

This module is the independent reference the RTL is verified against: it shares no code
and no structure (no tree, no adders) with hdl/.
"""
from __future__ import annotations

import numpy as np

N_LEVELS = 256
LEVEL_BITS = 8


def check_level(level: np.ndarray | int) -> np.ndarray:
    lv = np.asarray(level)
    if not np.issubdtype(lv.dtype, np.integer):
        raise TypeError(f"approximation level must be an integer, got dtype {lv.dtype}")
    if lv.size and (lv.min() < 0 or lv.max() > N_LEVELS - 1):
        bad = lv[(lv < 0) | (lv > N_LEVELS - 1)].ravel()[0]
        raise ValueError(f"approximation level {int(bad)} outside 0..255")
    return lv.astype(np.int64)


def column_errors(a: np.ndarray, b: np.ndarray, width: int, bias_comp: bool) -> np.ndarray:
    """Error removed by masking each column: e[c] = 2^c * colsum_c - compensation_c.

    a, b: signed operand values that fit in `width` bits (broadcast together).
    Returns int64 of shape (8,) + broadcast shape.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    mask = (1 << width) - 1
    ua, ub = a & mask, b & mask  # two's-complement patterns
    shape = np.broadcast_shapes(a.shape, b.shape)
    out = np.zeros((LEVEL_BITS,) + shape, dtype=np.int64)
    for c in range(LEVEL_BITS):
        colsum = np.zeros(shape, dtype=np.int64)
        for i in range(max(0, c - width + 1), min(c, width - 1) + 1):
            j = c - i
            bit = ((ua >> j) & 1) * ((ub >> i) & 1)
            if (i == width - 1) != (j == width - 1):
                bit = 1 - bit
            colsum = colsum + bit
        comp = (1 << c) if (bias_comp and c >= 2) else 0
        out[c] = (colsum << c) - comp
    return out


def _to_signed(x: np.ndarray, bits: int) -> np.ndarray:
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


def masked_baugh_wooley(a, b, level, *, width: int, bias_comp: bool) -> np.ndarray:
    """Products of the masked array for operands a, b (signed, <= width bits), broadcast
    against `level` (0..255). Returns int64: the 2*width-bit result as a signed value."""
    lv = check_level(level)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    for name, v in (("a", a), ("b", b)):
        if v.size and (v.min() < lo or v.max() > hi):
            raise ValueError(f"operand {name} outside the {width}-bit signed range {lo}..{hi}")
    err = column_errors(a, b, width, bias_comp)
    total = np.zeros(np.broadcast_shapes(a.shape, b.shape, lv.shape), dtype=np.int64)
    for c in range(LEVEL_BITS):
        total = total + ((lv >> c) & 1) * err[c]
    prod = _to_signed(a * b - total, 2 * width)
    return np.where((a == 0) | (b == 0), 0, prod)


def operand_values(bits: int) -> np.ndarray:
    """All signed values of `bits` bits in two's-complement index order (0, 1, .., -1)."""
    u = np.arange(1 << bits, dtype=np.int64)
    return np.where(u >= 1 << (bits - 1), u - (1 << bits), u)


def all_tables(model, operand_bits: int = 8, levels: np.ndarray | None = None,
               chunk: int = 32) -> np.ndarray:
    """Tables of `model(a, b, level)`: int64 [n_levels, 2^bits, 2^bits] indexed
    [level, weight pattern, activation pattern] (unsigned two's-complement indices)."""
    v = operand_values(operand_bits)
    lv = np.arange(N_LEVELS) if levels is None else check_level(levels).ravel()
    out = np.empty((lv.size, v.size, v.size), dtype=np.int64)
    for s in range(0, lv.size, chunk):  # chunks bound the int64 temporaries
        out[s:s + chunk] = model(v[None, :, None], v[None, None, :], lv[s:s + chunk, None, None])
    return out
