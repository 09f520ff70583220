"""The behavioural model: identities, corner values, and agreement with a brute-force
bit-level evaluation of the masked partial-product matrix (a third implementation)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lut_build import SCHEMES, all_tables, get_scheme
from lut_build.model import masked_baugh_wooley, operand_values

V8 = operand_values(8)


def brute(a: int, b: int, level: int, width: int, bias_comp: bool) -> int:
    """Add up the masked modified-Baugh-Wooley matrix bit by bit, mod 2^(2W), like the hardware."""
    if a == 0 or b == 0:
        return 0
    m = (1 << width) - 1
    ua, ub = a & m, b & m
    total = (1 << width) + (1 << (2 * width - 1))  # the constant 1s
    for i in range(width):
        for j in range(width):
            bit = (ua >> j) & (ub >> i) & 1
            if (i == width - 1) != (j == width - 1):
                bit ^= 1
            c = i + j
            if c < 8 and (level >> c) & 1:
                bit = 1 if (i == 0 and c >= 2 and bias_comp) else 0
            total += bit << c
    total &= (1 << 2 * width) - 1
    return total - (1 << 2 * width) if total >> (2 * width - 1) else total


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_level0_is_exact_everywhere(name):
    sch = get_scheme(name)
    for bits in (8, sch.width):
        v = operand_values(bits)
        got = sch.products(v[:, None], v[None, :], 0)
        assert np.array_equal(got, v[:, None] * v[None, :])


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_zero_operand_gives_zero_at_every_level(name):
    sch = get_scheme(name)
    lv = np.arange(256)[:, None]
    assert not sch.products(0, V8[None, :], lv).any()
    assert not sch.products(V8[None, :], 0, lv).any()


def test_corner_values_marlin():
    m = get_scheme("marlin")
    assert m.products(-128, -128, 0) == 16384
    assert m.products(127, -128, 0) == -16256
    assert m.products(1, 1, 1) == 0          # column 0 masked: a0&b0 removed
    assert m.products(1, 1, 4) == 1 + 4      # column 2 masked: nothing removed, row-0 bit forced to 1
    assert m.products(-1, -1, 0) == 1
    # level 128 masks only column 7; level 127 masks columns 0..6 (levels are not monotone)
    assert m.products(127, 127, 128) == brute(127, 127, 128, 9, True)
    t = all_tables(m.model, levels=[127, 128])
    assert np.abs(t[0] - V8[:, None] * V8[None, :]).mean() != np.abs(t[1] - V8[:, None] * V8[None, :]).mean()


@pytest.mark.parametrize("name,width,comp", [("marlin", 9, True), ("bw8", 8, True), ("marlin_nocomp", 9, False)])
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_closed_form_equals_bitwise_matrix(name, width, comp, data):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    a = data.draw(st.integers(lo, hi))
    b = data.draw(st.integers(lo, hi))
    level = data.draw(st.integers(0, 255))
    assert int(get_scheme(name).products(a, b, level)) == brute(a, b, level, width, comp)


def test_exhaustive_single_level_against_bitwise_matrix():
    sch = get_scheme("bw8")
    t = all_tables(sch.model, levels=[0x95])[0]
    rng = np.random.default_rng(0)
    for wi, ai in rng.integers(0, 256, size=(3000, 2)):
        assert t[wi, ai] == brute(int(V8[wi]), int(V8[ai]), 0x95, 8, True)


def test_tables_layout_and_speed():
    import time
    t0 = time.perf_counter()
    t = all_tables(get_scheme("marlin").model)
    assert time.perf_counter() - t0 < 30  # generous: a sanity bound, not a benchmark
    assert t.shape == (256, 256, 256)
    # index by two's-complement byte: weight -3 is row 253, activation 5 is column 5
    assert t[0, 253, 5] == -15
    assert t.min() >= -32768 and t.max() <= 32767


@pytest.mark.parametrize("bad", [-1, 256, 1000])
def test_level_out_of_range(bad):
    with pytest.raises(ValueError, match="outside 0..255"):
        masked_baugh_wooley(3, 4, bad, width=9, bias_comp=True)


def test_operand_out_of_range_and_unknown_scheme():
    with pytest.raises(ValueError, match="8-bit signed range"):
        masked_baugh_wooley(200, 4, 0, width=8, bias_comp=True)
    with pytest.raises(KeyError, match="known schemes: bw8, marlin, marlin_nocomp"):
        get_scheme("booth")
