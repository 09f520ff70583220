"""cocotb directed and random tests of one approx_mult instance against the behavioural model.

The scheme (and so the model) comes from AXX_SCHEME; operands are driven as WIDTH-bit
patterns (8-bit CNN operands sign-extended, as the LUT sweep does, plus full-width ones).
"""
from __future__ import annotations

import os
import random

import cocotb
from cocotb.triggers import Timer

from lut_build.schemes import get_scheme

SCHEME = get_scheme(os.environ.get("AXX_SCHEME", "marlin"))
W = SCHEME.width


def _model(a: int, b: int, level: int) -> int:
    return int(SCHEME.products(a, b, level))


async def _check(dut, vectors) -> None:
    bad = []
    for a, b, level in vectors:
        dut.a.value = a & ((1 << W) - 1)
        dut.b.value = b & ((1 << W) - 1)
        dut.level.value = level
        await Timer(1, unit="ns")
        got = dut.p.value.to_signed()
        want = _model(a, b, level)
        if got != want:
            bad.append((level, a, b, got, want))
    assert not bad, f"{len(bad)} of {len(vectors)} differ (level, a, b, rtl, model): {bad[:10]}"


SINGLE_BITS = [1 << c for c in range(8)]
CORNERS8 = [0, 1, -1, 2, -2, 127, -128, 126, -127, 64, -64]


@cocotb.test()
async def corners(dut) -> None:
    """0, +-1, -128*-128, 127*-128 ... at level 0, every single-bit level and 255."""
    vecs = [(a, b, lv) for lv in [0, *SINGLE_BITS, 255] for a in CORNERS8 for b in CORNERS8]
    await _check(dut, vecs)
    dut.a.value = (-128) & ((1 << W) - 1)
    dut.b.value = (-128) & ((1 << W) - 1)
    dut.level.value = 0
    await Timer(1, unit="ns")
    assert dut.p.value.to_signed() == 16384


@cocotb.test()
async def zero_gating(dut) -> None:
    """Any zero operand gives 0 at every level (the compensation bits must not leak)."""
    vecs = [(0, v, lv) for v in CORNERS8 for lv in range(0, 256, 5)]
    vecs += [(v, 0, lv) for v in CORNERS8 for lv in range(0, 256, 5)]
    await _check(dut, vecs)


@cocotb.test()
async def random_8bit(dut) -> None:
    rng = random.Random(int(os.environ.get("AXX_SEED", "1")))
    vecs = [(rng.randint(-128, 127), rng.randint(-128, 127), rng.randint(0, 255)) for _ in range(3000)]
    await _check(dut, vecs)


@cocotb.test()
async def random_full_width(dut) -> None:
    """Operands over the whole WIDTH-bit range (MARLIN's 9-bit space for the default scheme)."""
    rng = random.Random(int(os.environ.get("AXX_SEED", "1")) + 1)
    lo, hi = -(1 << (W - 1)), (1 << (W - 1)) - 1
    vecs = [(rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(0, 255)) for _ in range(2000)]
    vecs += [(lo, lo, lv) for lv in [0, *SINGLE_BITS, 255]] + [(hi, lo, lv) for lv in [0, 255]]
    await _check(dut, vecs)
