"""Engines against the reference LUT gather, level 0 against exact int8 convolution, fast vs c on
every level, and bad input."""
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings, strategies as st

from emulator.engines import get_engine
from emulator.engines import fast
from emulator.lut import LutSet, load_scheme


@pytest.fixture(scope="module")
def marlin():
    return load_scheme("marlin")


VNNI = fast.vnni_available()
AVX2 = fast.avx2_available()
ONEDNN = fast.onednn_available()


@pytest.fixture(params=["vnni", "avx2", "onednn", "int_mm", "float"])
def fast_path(request, monkeypatch):
    """Run a test through each CPU route of the fast engine: the implicit-GEMM VNNI kernel
    (csrc/planeconv.c), the AVX2 one (csrc/planeconv_avx2.c: activations >= 0 only, the others take
    another route), oneDNN's int8 convolution of the VNNI kernel's planes (AMX where the CPU has it), the
    portable im2col + torch._int_mm route and the float32 convolution."""
    if request.param == "vnni" and not VNNI:
        pytest.skip("this CPU has no AVX-512 VNNI")
    if request.param == "avx2" and not AVX2:
        pytest.skip("this CPU has no AVX2")
    if request.param == "onednn" and not ONEDNN:
        pytest.skip("oneDNN's int8 convolution is not exact here (no AVX-512 VNNI) or absent")
    monkeypatch.setattr(fast, "_VNNI", request.param == "vnni")
    monkeypatch.setenv("AXX_FAST_ROUTE", request.param)
    return request.param


def exact_int8_conv(x, w, s, p):
    return torch.nn.functional.conv2d(x.double(), w.double(), stride=s, padding=p).round().to(torch.int32)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 6), h=st.integers(3, 10), wd=st.integers(3, 10),
       o=st.integers(1, 9), k=st.sampled_from([1, 2, 3]), s=st.sampled_from([1, 2]), p=st.integers(0, 2),
       level=st.integers(0, 255), seed=st.integers(0, 2**31 - 1), relu=st.booleans())
def test_engines_match_reference(marlin, n, c, h, wd, o, k, s, p, level, seed, relu):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0 if relu else -128, 128, (n, c, h, wd), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (o, c, k, k), dtype=torch.int8, generator=g)
    lut = marlin.table(level)
    ref = get_engine("reference").conv(x, w, lut, s, p)
    for name in ("c", "fast"):
        got = get_engine(name).conv(x, w, lut, s, p)
        assert got.dtype == torch.int32 and torch.equal(got, ref), name
    if VNNI:  # the fast engine's other CPU route too
        fast._VNNI = False
        try:
            assert torch.equal(fast.conv(x, w, lut, s, p), ref)
        finally:
            fast._VNNI = True


# the planes kernels' blocking edges: channel counts that are not multiples of 4 or 8, rows that are not a
# multiple of a pixel tile, strides, padding, kernel sizes, channels-last inputs
WIDE = dict(n=st.integers(1, 2), c=st.integers(1, 70), h=st.integers(1, 19), k=st.sampled_from([1, 3, 5]),
            s=st.sampled_from([1, 2, 3]), p=st.integers(0, 2), level=st.integers(0, 255),
            seed=st.integers(0, 2**31 - 1), channels_last=st.booleans())


@settings(max_examples=25, deadline=None)
@given(o=st.integers(1, 150), **WIDE)
def test_vnni_kernel_wide_shapes(marlin, n, c, h, o, k, s, p, level, seed, channels_last):
    """The VNNI kernel's blocking edges: channel counts that are not multiples of 4 or 8 (plane
    padding), output channels over several 16/32/64 groups and partial groups, rows that are not a
    multiple of the 8-pixel tile, strided and channels-last inputs."""
    if not VNNI:
        pytest.skip("this CPU has no AVX-512 VNNI")
    if h + 2 * p < k:
        return
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-128, 128, (n, c, h, h + 3), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (o, c, k, k), dtype=torch.int8, generator=g)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    lut = marlin.table(level)
    assert torch.equal(fast.conv(x, w, lut, s, p), get_engine("c").conv(x, w, lut, s, p))


@settings(max_examples=25, deadline=None)
@given(o=st.integers(1, 150), relu=st.booleans(), **WIDE)
def test_onednn_route_wide_shapes(marlin, n, c, h, o, k, s, p, level, seed, channels_last, relu):
    """oneDNN's int8 convolution of the planes (its AMX or VNNI kernels block by 16/32/64 channels and by
    tiles of pixels): channel counts that are not multiples of 4, many output channels, strides, padding,
    channels-last and signed inputs; the planes' weights keep every sum below 2^24 here (|w| <= 20)."""
    if not ONEDNN:
        pytest.skip("oneDNN's int8 convolution is not exact here (no AVX-512 VNNI) or absent")
    if h + 2 * p < k:
        return
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0 if relu else -128, 128, (n, c, h, h + 3), dtype=torch.int8, generator=g)
    w = torch.randint(-20, 21, (o, c, k, k), dtype=torch.int8, generator=g)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    lut = marlin.table(level)
    assert torch.equal(fast.conv(x, w, lut, s, p, route="onednn"), get_engine("c").conv(x, w, lut, s, p))


def test_onednn_route_only_where_float32_is_exact(marlin):
    """oneDNN hands its int32 sums over as float32: the route is offered only while every sum, with the x plane
    at x + 128 = 255 and the bias and pixel corrections added, stays below 2^24 (full-scale weights over 64
    channels of 3x3 taps cannot; the automatic choice is then still exact, through another route)."""
    if not ONEDNN:
        pytest.skip("oneDNN's int8 convolution is not exact here (no AVX-512 VNNI) or absent")
    lut = marlin.table(200)
    dec = fast.decomposition_for(lut)
    small = torch.randint(-20, 21, (4, 64, 3, 3), dtype=torch.int8, generator=torch.Generator().manual_seed(3))
    assert fast.prepare(small, dec).onednn((1, 1)) is not None
    big = torch.full((2, 64, 3, 3), -128, dtype=torch.int8)
    assert fast.prepare(big, dec).onednn((1, 1)) is None
    x = torch.full((1, 64, 4, 4), -128, dtype=torch.int8)
    with pytest.raises(ValueError, match="route 'onednn' cannot run this convolution here"):
        fast.conv(x, big, lut, 1, 1, route="onednn")
    assert torch.equal(fast.conv(x, big, lut, 1, 1), get_engine("reference").conv(x, big, lut, 1, 1))
    # at the bound's edge: every x plane byte 255 against -128, the largest sum the route takes, exactly
    edge = torch.full((3, 32, 3, 3), -128, dtype=torch.int8)
    xe = torch.full((1, 32, 5, 5), 127, dtype=torch.int8)
    assert fast.prepare(edge, fast.decomposition_for(marlin.table(0))).onednn((1, 1)) is not None
    assert torch.equal(fast.conv(xe, edge, marlin.table(0), 1, 0, route="onednn"),
                       get_engine("reference").conv(xe, edge, marlin.table(0), 1, 0))


@settings(max_examples=25, deadline=None)
@given(o=st.integers(1, 40), extreme=st.booleans(), **WIDE)
def test_avx2_kernel_wide_shapes(marlin, n, c, h, o, k, s, p, level, seed, channels_last, extreme):
    """The AVX2 kernel (also where VNNI would be chosen): channel counts that are not multiples of 4 (x-plane
    quads holding bit-plane bytes), output channels over several 8-channel groups and a partial one, rows that
    are not a multiple of its 4-pixel tile, strides, channels-last inputs; and the 16-bit limits: x = 127
    against weights of -128 everywhere (each pair of x-plane products -32512), every bit set."""
    if not AVX2:
        pytest.skip("this CPU has no AVX2")
    if h + 2 * p < k:
        return
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 128, (n, c, h, h + 3), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (o, c, k, k), dtype=torch.int8, generator=g)
    if extreme:
        x.fill_(127)
        w.fill_(-128)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    lut = marlin.table(level)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast, "_VNNI", False)  # offered only where VNNI is absent
        got = fast.conv(x, w, lut, s, p, route="avx2")
    assert torch.equal(got, get_engine("c").conv(x, w, lut, s, p))


def test_avx2_kernel_refuses_negative_activations(marlin):
    """Its 16-bit pair sums hold only for x >= 0: the engine never offers it for signed activations, and the
    kernel itself refuses one (rather than saturating)."""
    if not AVX2:
        pytest.skip("this CPU has no AVX2")
    x = torch.zeros(1, 4, 5, 5, dtype=torch.int8)
    x[0, 1, 2, 3] = -1
    w = torch.ones(8, 4, 3, 3, dtype=torch.int8)
    prep = fast.prepare(w, fast.decomposition_for(marlin.table(50)))
    with pytest.raises(ValueError, match="route 'avx2' cannot run"):
        fast.conv(x, w, marlin.table(50), 1, 1, route="avx2")
    with pytest.raises(ValueError, match="activations >= 0 only"):
        fast.conv_avx2(x, prep, 1, 1)
    x[0, 1, 2, 3] = 1
    assert torch.equal(fast.conv_avx2(x, prep, 1, 1), get_engine("c").conv(x, w, marlin.table(50), 1, 1))


def test_avx2_fused_route_takes_the_library_route_for_signed_layers(marlin, monkeypatch):
    """The fused AVX2 route is tried on the quantized activations; a layer with a negative one (a network's
    first) gets the library route's exact result, and that layer shape is not tried again."""
    if not AVX2:
        pytest.skip("this CPU has no AVX2")
    monkeypatch.setattr(fast, "_VNNI", False)
    monkeypatch.setattr(fast, "_SIGNED", set())
    # routes timed by earlier tests for this shape (a route found slow there is not tried again) would decide
    # without trying the kernel: it failed so in a full run on an AVX-512 VNNI Xeon
    monkeypatch.setattr(fast, "_ROUTES", {})
    monkeypatch.setattr(fast, "_SLOW", set())
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 8, 6, 6, generator=g)
    w = torch.randint(-128, 128, (8, 8, 3, 3), dtype=torch.int8, generator=g)
    amax, ws, lut, eng = x.abs().max(), torch.tensor(0.01), marlin.table(100), get_engine("fast")
    got = eng.conv_float(x, amax, w, ws, lut, 1, 1)
    assert fast._SIGNED == {((8, 6, 6), (8, 8, 3, 3))}
    monkeypatch.setenv("AXX_FAST_ROUTE", "int_mm")
    assert torch.equal(got, eng.conv_float(x, amax, w, ws, lut, 1, 1))


@pytest.mark.parametrize("route", ["vnni", "onednn"])
def test_planes_routes_assume_nonneg_activations_until_the_planes_pass_finds_a_negative(marlin, monkeypatch, route):
    """At a level whose table needs the sign's plane (P = 8), the planes routes take the decomposition without
    it unless their planes pass meets a negative quantized activation: that call and that layer shape then get
    the signed one; no look at the activations (amin) for layers after a ReLU."""
    if route == "vnni" and not VNNI or route == "onednn" and not ONEDNN:
        pytest.skip(f"the {route} route cannot run on this CPU")
    for name, value in (("_SIGNED", set()), ("_ROUTES", {}), ("_SLOW", set())):
        monkeypatch.setattr(fast, name, value)
    monkeypatch.setenv("AXX_FAST_ROUTE", route)
    looks = []
    monkeypatch.setattr(fast, "has_negative", lambda t, f=fast.has_negative: looks.append(t.shape) or f(t))
    lut, ref, eng = marlin.table(200), get_engine("reference"), get_engine("fast")
    assert fast.decomposition_for(lut).planes == 8
    g = torch.Generator().manual_seed(3)
    w = torch.randint(-128, 128, (8, 8, 3, 3), dtype=torch.int8, generator=g)
    ws = torch.tensor(0.01)
    x = torch.randn(2, 8, 6, 6, generator=g)
    x[0, 0, 0, 0] = -x.abs().max()  # some activation quantizes to -127
    amax = x.abs().max()
    want = ref.conv_float(x, amax, w, ws, lut, 1, 1)
    assert torch.equal(eng.conv_float(x, amax, w, ws, lut, 1, 1), want)
    assert fast._SIGNED == {((8, 6, 6), (8, 8, 3, 3))}
    assert torch.equal(eng.conv_float(x, amax, w, ws, lut, 1, 1), want)  # now looked at first
    assert looks
    # the layer at another batch size (an attack's shrinking batch) is looked at too, not assumed again
    assert torch.equal(eng.conv_float(x[:1], amax, w, ws, lut, 1, 1), want[:1])
    assert fast._SIGNED == {((8, 6, 6), (8, 8, 3, 3))}
    looks.clear()
    r = torch.relu(torch.randn(3, 8, 7, 7, generator=g))  # another layer (its shape less the batch)
    for _ in range(2):
        assert torch.equal(eng.conv_float(r, amax, w, ws, lut, 1, 1), ref.conv_float(r, amax, w, ws, lut, 1, 1))
    assert looks == [] and len(fast._SIGNED) == 1


@pytest.mark.parametrize("engine", ["reference", "c", "fast"])
def test_level0_is_exact_int8_conv(marlin, engine, fast_path):
    g = torch.Generator().manual_seed(1)
    x = torch.randint(-128, 128, (2, 8, 12, 12), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (16, 8, 3, 3), dtype=torch.int8, generator=g)
    for s, p in [(1, 1), (2, 1), (1, 0)]:
        assert torch.equal(get_engine(engine).conv(x, w, marlin.table(0), s, p), exact_int8_conv(x, w, s, p))


@pytest.mark.parametrize("scheme", ["marlin", "bw8"])
@pytest.mark.parametrize("relu", [False, True])
def test_fast_equals_c_on_every_level(scheme, relu, fast_path):
    """Signed activations, and non-negative ones (after a ReLU: the decomposition without the sign plane,
    and the float route's folded planes where that is fewer)."""
    luts = load_scheme(scheme)
    g = torch.Generator().manual_seed(2)
    x = torch.randint(-128, 128, (2, 4, 7, 7), dtype=torch.int8, generator=g)
    x = x.clamp(min=0) if relu else x
    w = torch.randint(-128, 128, (5, 4, 3, 3), dtype=torch.int8, generator=g)
    c, f = get_engine("c"), get_engine("fast")
    for level in range(256):
        lut = luts.table(level)
        assert torch.equal(f.conv(x, w, lut, 1, 1), c.conv(x, w, lut, 1, 1)), level


def test_nonneg_activations_drop_the_sign_plane_and_fold(marlin):
    """Where every activation is >= 0 (bit 7 is 0) the sign's error plane is dropped (P = 8 -> 7), and the
    float route folds x into the bit planes where that makes fewer channel groups (P + 2 -> B + 1)."""
    w = torch.randint(-128, 128, (3, 2, 3, 3), dtype=torch.int8, generator=torch.Generator().manual_seed(3))
    for level, signed, nonneg in [(255, (8, True, 9), (7, True, 8)), (100, (7, False, 9), (7, True, 8)),
                                  (50, (6, False, 8), (6, False, 8)), (0, (0, False, 1), (0, False, 1))]:
        pw = fast.prepare(w, fast.decomposition_for(marlin.table(level)))
        for x, (planes, folded, groups) in [(torch.full((1, 2, 4, 4), -3, dtype=torch.int8), signed),
                                             (torch.full((1, 2, 4, 4), 3, dtype=torch.int8), nonneg)]:
            d = pw.for_input(x).dec
            assert d.planes == planes and fast._float_layout(d)[0] == folded, level
            assert fast._float_planes(x, d).shape[1] == groups * 2 and pw.for_input(x).float_weights().shape[1] == groups * 2
    assert pw.for_input(torch.zeros(1, 2, 4, 4, dtype=torch.int8)) is pw  # level 0: nothing to drop


def test_decomposition_facts(marlin):
    assert fast.decompose(marlin.table(0)).exact
    # a level below 2^k needs k error planes (engines/decomposition.py)
    assert [fast.decompose(marlin.table(l)).planes for l in (1, 8, 50, 100, 128, 255)] == [1, 4, 6, 7, 8, 8]
    assert all(fast.decompose(marlin.table(l)).int8 for l in range(256))


def test_non_decomposable_table_refused():
    g = torch.Generator().manual_seed(3)
    lut = torch.randint(-3000, 3000, (256, 256), dtype=torch.int16, generator=g)
    assert fast.decompose(lut) is None
    x = torch.zeros(1, 1, 3, 3, dtype=torch.int8)
    w = torch.ones(1, 1, 3, 3, dtype=torch.int8)
    with pytest.raises(ValueError, match="does not decompose"):
        fast.conv(x, w, lut)
    # the LUT engines still handle it
    assert torch.equal(get_engine("c").conv(x + 1, w, lut), get_engine("reference").conv(x + 1, w, lut))


def test_int32_table_and_noncontiguous_inputs(marlin):
    g = torch.Generator().manual_seed(4)
    x = torch.randint(-128, 128, (2, 3, 8, 8), dtype=torch.int8, generator=g).transpose(2, 3)
    w = torch.randint(-128, 128, (4, 3, 3, 3), dtype=torch.int8, generator=g)
    assert not x.is_contiguous()
    lut32 = marlin.table(77).to(torch.int32)
    ref = get_engine("reference").conv(x.contiguous(), w, marlin.table(77), 1, 1)
    for name in ("c", "fast", "reference"):
        assert torch.equal(get_engine(name).conv(x, w, lut32, 1, 1), ref)


@pytest.mark.parametrize("engine", ["reference", "c", "fast"])
def test_bad_input_clear_errors(marlin, engine):
    e = get_engine(engine)
    x = torch.zeros(1, 3, 5, 5, dtype=torch.int8)
    w = torch.zeros(2, 3, 3, 3, dtype=torch.int8)
    lut = marlin.table(3)
    with pytest.raises(TypeError, match="activations must be int8"):
        e.conv(x.float(), w, lut)
    with pytest.raises(TypeError, match="weights must be int8"):
        e.conv(x, w.int(), lut)
    with pytest.raises(ValueError, match="channel mismatch"):
        e.conv(x, torch.zeros(2, 4, 3, 3, dtype=torch.int8), lut)
    with pytest.raises(ValueError, match=r"shape \(256, 256\)"):
        e.conv(x, w, lut[:128])
    with pytest.raises(TypeError, match="int16 or int32"):
        e.conv(x, w, lut.float())
    with pytest.raises(ValueError, match="larger than padded input"):
        e.conv(x[:, :, :2, :2], w, lut)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        e.conv(x, w, lut, stride=0)


def test_level_and_lutset_errors(marlin):
    with pytest.raises(ValueError, match="outside 0..255"):
        marlin.table(256)
    with pytest.raises(ValueError, match="outside 0..255"):
        marlin.table(-1)
    with pytest.raises(ValueError, match=r"\(256, 256, 256\)"):
        LutSet(torch.zeros(10, 256, 256, dtype=torch.int16))
    with pytest.raises(TypeError, match="int16 or int32"):
        LutSet(torch.zeros(256, 256, 256, dtype=torch.float32))


def test_unknown_engine():
    with pytest.raises(ValueError, match="choose one of reference, c, cuda, fast"):
        get_engine("gpu")


ASAN_SCRIPT = """
import torch
from emulator.engines import c, fast, reference
from emulator.lut import load_scheme
L = load_scheme('marlin')
g = torch.Generator().manual_seed(5)
for (n, ch, h, o, k, s, p) in [(1, 1, 3, 1, 3, 1, 0), (2, 3, 9, 5, 3, 2, 1), (1, 4, 7, 2, 1, 1, 0), (3, 2, 5, 3, 2, 2, 2)]:
    x = torch.randint(-128, 128, (n, ch, h, h + 1), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (o, ch, k, k), dtype=torch.int8, generator=g)
    for lv in (0, 200):
        ref = reference.conv(x, w, L.table(lv), s, p)
        assert torch.equal(c.conv(x, w, L.table(lv), s, p), ref)
        assert torch.equal(fast.conv(x, w, L.table(lv), s, p), ref)  # the VNNI kernel where the CPU has it
        for xx in (x, x.clamp(min=0), x.to(memory_format=torch.channels_last)):  # the float route's C planes
            assert torch.equal(fast.conv(xx, w, L.table(lv), s, p, route="float"),
                               reference.conv(xx, w, L.table(lv), s, p))
        if fast.avx2_available():  # the AVX2 kernel, also where VNNI would run
            fast._VNNI = False
            xn = x.clamp(min=0)
            assert torch.equal(fast.conv(xn, w, L.table(lv), s, p, route="avx2"), reference.conv(xn, w, L.table(lv), s, p))
            fast._VNNI = None
print("asan-ok")
"""


def test_c_kernels_under_address_sanitizer(tmp_path):
    lib = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not lib or not os.path.exists(lib):
        pytest.fail("libasan not found (gcc's AddressSanitizer runtime is needed for this test)")
    env = {**os.environ, "AXX_C_SANITIZE": "address", "AXX_BUILD_DIR": str(tmp_path), "LD_PRELOAD": lib,
           "ASAN_OPTIONS": "detect_leaks=0"}
    p = subprocess.run([sys.executable, "-c", ASAN_SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0 and "asan-ok" in p.stdout, p.stdout + p.stderr[-3000:]


@pytest.mark.parametrize("level", [1, 100, 200, 255])
def test_float_planes_c_equals_torch(marlin, monkeypatch, level):
    """The float route's planes from the C kernel and from torch ops, for each layout (signed, non-negative,
    folded or not) and input strides (NCHW, channels-last, a strided slice)."""
    g = torch.Generator().manual_seed(level)
    x = torch.randint(-128, 128, (2, 5, 6, 9), dtype=torch.int8, generator=g)
    dec = fast.decomposition_for(marlin.table(level))
    for xx, d in [(x, dec), (x.clamp(min=0), fast.for_nonneg(dec)),
                  (x.to(memory_format=torch.channels_last), dec), (x[:, :, :, ::2], dec)]:
        monkeypatch.setattr(fast, "_C_IM2COL", True)
        c = fast._float_planes(xx, d)
        monkeypatch.setattr(fast, "_C_IM2COL", False)
        t = fast._float_planes(xx, d)
        assert c.shape == t.shape and torch.equal(c, t)


def test_fast_torch_fallback_matches(marlin, monkeypatch):
    """The plane/im2col path in torch ops (no C compiler; GPUs) gives the same accumulators, and so does the C
    im2col with the same box sum of its correction."""
    monkeypatch.setattr(fast, "_VNNI", False)
    g = torch.Generator().manual_seed(6)
    x = torch.randint(-128, 128, (2, 5, 8, 7), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (6, 5, 3, 3), dtype=torch.int8, generator=g)
    for c_kernels in (False, True):
        monkeypatch.setattr(fast, "_C_IM2COL", c_kernels)
        for level in (0, 1, 50, 128, 255):
            for s, p in ((1, 1), (2, 0), (2, 2)):
                lut = marlin.table(level)
                ref = get_engine("reference").conv(x, w, lut, s, p)
                assert torch.equal(fast.conv(x, w, lut, s, p, route="int_mm"), ref), (c_kernels, level, s, p)
    monkeypatch.setattr(fast, "_C_IM2COL", False)
    bw8 = load_scheme("bw8")  # the float64 path
    assert torch.equal(fast.conv(x, w, bw8.table(200), 1, 1, route="int_mm"),
                       get_engine("reference").conv(x, w, bw8.table(200), 1, 1))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 12), h=st.integers(1, 9), wd=st.integers(1, 9),
       o=st.integers(1, 12), k=st.sampled_from([1, 2, 3, 5]), s=st.sampled_from([1, 2, 3]), p=st.integers(0, 2),
       level=st.integers(0, 255), seed=st.integers(0, 2**31 - 1), relu=st.booleans(), strided=st.booleans())
def test_gemm_route_in_torch_ops_matches_reference(marlin, n, c, h, wd, o, k, s, p, level, seed, relu, strided):
    """The GEMM route as a GPU runs it (torch ops: the planes gathered from a table, one strided im2col copy,
    the correction's box sum in integers) on random shapes, strides, paddings, signed and non-negative
    (after a ReLU: one plane fewer) and non-contiguous activations, against the plain LUT gather."""
    if h + 2 * p < k or wd + 2 * p < k:
        return
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0 if relu else -128, 128, (n, c, h, 2 * wd if strided else wd), dtype=torch.int8, generator=g)
    x = x[:, :, :, ::2] if strided else x
    w = torch.randint(-128, 128, (o, c, k, k), dtype=torch.int8, generator=g)
    lut = marlin.table(level)
    saved = fast._C_IM2COL
    fast._C_IM2COL = False
    try:
        got = fast.conv(x, w, lut, s, p, route="int_mm")
    finally:
        fast._C_IM2COL = saved
    assert got.dtype == torch.int32 and torch.equal(got, get_engine("reference").conv(x, w, lut, s, p))


def test_gemm_route_in_torch_ops_is_a_few_kernels(marlin, monkeypatch):
    """On a GPU every tensor op is a kernel launch, and a search's small layers are bound by the launches: the
    torch-ops route stays a handful of ops per convolution (the per-plane version: ~90 per layer; an H200 evaluated
    approx ResNet-32 with it no faster than a 16-core CPU)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    views = {"view", "_unsafe_view", "as_strided", "permute", "slice", "unsqueeze", "detach", "select", "expand"}
    monkeypatch.setattr(fast, "_C_IM2COL", False)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 128, (4, 16, 8, 8), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (16, 16, 3, 3), dtype=torch.int8, generator=g)
    lut = marlin.table(100)
    prep = fast.prepare(w, fast.decomposition_for(lut)).for_input(x)
    fast.conv(x, w, lut, 1, 1, prepared=prep, route="int_mm")  # the weights' side and the tables, once
    ops = []

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket.__name__ not in views:
                ops.append(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    with Count():
        fast._conv_int_mm(x, prep, (1, 1), (1, 1), 8, 8)
    assert len(ops) <= 10, ops


def test_approx_network_on_the_torch_route_waits_for_the_device_once_per_layer(monkeypatch):
    """On a GPU every host read of a tensor (float(), bool(), tolist()) waits for the device to drain its queue,
    and every op is a launch: an approx layer looks at its activations once (finite, and >= 0 for the planes)
    and reuses its scales (the old code read three values a layer, ~95 per approx ResNet-32 forward, and spent
    ~37 ops a layer, 12 of them on scalar scale arithmetic)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from emulator import calibrate, resnet
    from emulator.configure import approx_convs

    monkeypatch.setattr(fast, "_C_IM2COL", False)
    monkeypatch.setenv("AXX_FAST_ROUTE", "int_mm")
    torch.manual_seed(0)
    m = resnet(20, "approx")
    x = torch.rand(8, 3, 32, 32)
    calibrate(m, x)
    m.eval()
    m.set_levels(60)
    with torch.no_grad():
        want = m(x)  # first call: tables, weights, scales
    reads, ops = [], []
    tolist = torch.Tensor.tolist

    def counted_tolist(t):
        reads.append("tolist")
        return tolist(t)

    monkeypatch.setattr(torch.Tensor, "tolist", counted_tolist)
    views = {"view", "_unsafe_view", "as_strided", "permute", "slice", "unsqueeze", "detach", "select", "expand",
             "t", "transpose", "alias", "squeeze", "reshape", "unbind"}

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            if name == "_local_scalar_dense":
                reads.append(name)
            elif name not in views:
                ops.append(name)
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), Count():
        got = m(x)
    assert torch.equal(got, want)
    convs = len(approx_convs(m))
    # one look per layer, the input's range check (2 values), the first layer's signed bytes (1)
    assert len(reads) <= convs + 3, collections_counter(reads)
    assert len(ops) <= 22 * convs, collections_counter(ops)


def collections_counter(items):
    import collections
    return collections.Counter(items).most_common()


def test_single_output_channel_and_int_mm_strides(marlin, fast_path):
    """One output channel makes B [K, 1], whose stride torch may leave non-canonical (regression)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-128, 128, (1, 2, 3, 3), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (1, 2, 1, 1), dtype=torch.int8, generator=g)
    for level in (0, 1, 77):
        lut = marlin.table(level)
        assert torch.equal(fast.conv(x, w, lut), get_engine("reference").conv(x, w, lut))


def test_cpu_route_is_the_fastest_one_timed_once_per_shape(marlin, monkeypatch):
    """The engine times every CPU route that can run a shape once and keeps the fastest (routes made slow
    on purpose here, so no VNNI hardware is needed); the result is the same whichever wins."""
    import time as _time
    monkeypatch.delenv("AXX_FAST_ROUTE")
    monkeypatch.setattr(fast, "_VNNI", True)
    monkeypatch.setattr(fast, "_ONEDNN", False)  # three routes here (oneDNN's, where it runs, is timed as they are)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 128, (2, 8, 6, 6), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (4, 8, 3, 3), dtype=torch.int8, generator=g)
    lut = marlin.table(50)
    ref = get_engine("reference").conv(x, w, lut, 1, 1)
    real = {"int_mm": fast._conv_int_mm, "float": fast._conv_float32}
    calls = []

    def make(winner):
        def wrap(name, impl):
            def fn(*a, **k):
                calls.append(name)
                if name != winner:
                    _time.sleep(0.15)  # a margin a loaded machine keeps (0.05 s failed once beside 3 processes)
                return impl(*a, **k)
            return fn
        monkeypatch.setattr(fast, "conv_vnni", wrap("vnni", lambda x_, prep, s, p, **k: real["int_mm"](x_, prep, s, p, 6, 6)))
        monkeypatch.setattr(fast, "_conv_int_mm", wrap("int_mm", real["int_mm"]))
        monkeypatch.setattr(fast, "_conv_float32", wrap("float", real["float"]))

    for winner in ("vnni", "int_mm", "float"):
        monkeypatch.setattr(fast, "_ROUTES", {})
        monkeypatch.setattr(fast, "_SLOW", set())
        calls.clear()
        make(winner)
        assert torch.equal(fast.conv(x, w, lut, 1, 1), ref)
        # every route tried, the winner timed (warm-up + two runs), then it computes the result
        assert list(fast._ROUTES.values()) == [winner] and set(calls) == {"vnni", "int_mm", "float"}
        assert calls.count(winner) == 4 and calls[-1] == winner
        n = len(calls)
        assert torch.equal(fast.conv(x, w, lut, 1, 1), ref) and calls[n:] == [winner]  # cached: not timed again
        # another level of the same layer shape (other planes): the routes far slower there are not timed again
        calls.clear()
        lut8 = marlin.table(200)
        assert torch.equal(fast.conv(x, w, lut8, 1, 1), get_engine("reference").conv(x, w, lut8, 1, 1))
        assert calls == [winner] and len(fast._ROUTES) == 2
    monkeypatch.setattr(fast, "_VNNI", False)  # one route left (no planes kernel, float32 refused): never timed
    monkeypatch.setattr(fast, "_AVX2", False)
    monkeypatch.setattr(fast, "float_route_ok", lambda: False)
    monkeypatch.setattr(fast, "_ROUTES", {})
    assert torch.equal(fast.conv(x, w, lut, 1, 1), ref) and not fast._ROUTES


def test_route_chosen_for_one_table_is_not_reused_where_it_cannot_run(marlin, monkeypatch):
    """Two tables with the same number of planes, one int8 (marlin 200: the planes kernels can run it) and one
    that needs float64 terms (bw8 200: they cannot): the route timed for the first is not taken for the second
    (it was a KeyError, 'error: avx2', in `axx assess --scheme bw8` after marlin)."""
    monkeypatch.delenv("AXX_FAST_ROUTE")
    monkeypatch.setattr(fast, "_ROUTES", {})
    bw8 = load_scheme("bw8")
    g = torch.Generator().manual_seed(4)
    x = torch.randint(0, 128, (2, 8, 6, 6), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (8, 8, 3, 3), dtype=torch.int8, generator=g)
    for lut in (marlin.table(200), bw8.table(200)):
        assert torch.equal(fast.conv(x, w, lut, 1, 1), get_engine("reference").conv(x, w, lut, 1, 1))
    fast._ROUTES[next(iter(fast._ROUTES))] = "no such route"  # a stale entry is timed again, not used
    assert torch.equal(fast.conv(x, w, marlin.table(200), 1, 1), get_engine("reference").conv(x, w, marlin.table(200), 1, 1))


def test_float_route_only_where_float32_is_exact(marlin):
    """The float32 route is offered only while every partial sum stays below 2^24: 128 input channels of
    3x3 taps with full-scale weights can reach 9 * 128 * 128 * 128 > 2^24, so there it is refused (and the
    automatic choice still gives the exact result through another route)."""
    g = torch.Generator().manual_seed(1)
    lut = marlin.table(100)
    dec = fast.decomposition_for(lut)
    small = torch.randint(-128, 128, (4, 64, 3, 3), dtype=torch.int8, generator=g)
    assert fast.prepare(small, dec).float_weights() is not None
    big = torch.full((2, 128, 3, 3), -128, dtype=torch.int8)
    assert fast.prepare(big, dec).float_weights() is None
    x = torch.full((1, 128, 4, 4), -128, dtype=torch.int8)  # the worst case: every product at its largest
    with pytest.raises(ValueError, match="route 'float' cannot run this convolution here"):
        fast.conv(x, big, lut, 1, 1, route="float")
    ref = get_engine("reference").conv(x, big, lut, 1, 1)
    assert torch.equal(fast.conv(x, big, lut, 1, 1), ref)


def test_float_route_in_chunks_of_images(marlin, monkeypatch):
    """The float route convolves the batch in chunks that keep the planes in cache: chunk edges change
    nothing (one image per chunk here)."""
    monkeypatch.setattr(fast, "PLANE_BYTES", 1)
    g = torch.Generator().manual_seed(9)
    x = torch.randint(-128, 128, (3, 4, 6, 6), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (5, 4, 3, 3), dtype=torch.int8, generator=g)
    for level in (0, 77, 255):
        for xx in (x, x.clamp(min=0)):
            ref = get_engine("reference").conv(xx, w, marlin.table(level), 2, 1)
            assert torch.equal(fast.conv(xx, w, marlin.table(level), 2, 1, route="float"), ref)


def test_engines_never_reuse_a_freed_table_s_cached_values():
    """Tables made and dropped one after another (a designer's edited schemes, a search's levels) reuse the
    same memory; the engines' caches (int32 copy, decomposition) must follow the content, not the address.
    Keyed by the address, the C engine computed level 1 with level 0's products."""
    g = torch.Generator().manual_seed(7)
    x = torch.randint(-128, 128, (2, 4, 6, 6), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (3, 4, 3, 3), dtype=torch.int8, generator=g)
    scheme = load_scheme("marlin")
    for level in (0, 1, 50, 0, 128, 255):
        lut = scheme.table(level).clone()  # freed at the next iteration: its successor lands at its address
        want = get_engine("reference").conv(x, w, lut, 1, 1)
        for name in ("c", "fast"):
            assert torch.equal(get_engine(name).conv(x, w, lut, 1, 1), want), (name, level)
        del lut


def test_tensor_cache_follows_content_owner_and_writes():
    from emulator.engines.tensor_cache import TensorCache
    made = []
    cache = TensorCache(8)
    make = lambda t: made.append(1) or t.sum().item()  # noqa: E731
    base = torch.arange(12.0).reshape(3, 4)
    assert cache.get(base[1], make) == 22.0 and cache.get(base[1], make) == 22.0 and len(made) == 1  # views: a hit
    base[1, 0] = 100.0  # an in-place write bumps the shared version
    assert cache.get(base[1], make) == 118.0 and len(made) == 2
    a = torch.zeros(1000)
    assert cache.get(a, make) == 0.0
    ptr = a.data_ptr()
    del a
    b = torch.ones(1000)
    if b.data_ptr() == ptr and b._version == 0:  # the allocator reused the memory: the old entry must not match
        assert cache.get(b, make) == 1000.0
    assert cache.get(b, make) == 1000.0
