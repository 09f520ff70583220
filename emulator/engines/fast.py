"""Fast engine: the exact GEMM decomposition of a decomposable table (README: "Use it from Python").

A table T decomposes when, for every weight pattern w and activation pattern x,

    T(w, x) = [w != 0][x != 0] * ( w*x - sum_{i<P} E_i(w) * b_i(x) + K(w) )

with b_i(x) bit i of the activation's byte. For the masking schemes the error is bilinear in
the operand bits, so this holds with E_i(w) = sum_{c in M, c >= i} 2^c a_{c-i}(w) and K the
bias compensation. The fit is read off 9 columns of T and then checked on all 65,536 entries;
a table that does not decompose is refused (the caller falls back to a LUT engine).

A convolution then is ONE integer GEMM over concatenated planes:

    A = im2col[ x | -b_0 .. -b_{P-1} | (x != 0) ]          int8 [M, K*(P+2)]   (M = N*OH*OW)
    B = [ w ; E_0 - 128 .. E_{P-1} - 128 ; K - 128 ]       int8 [K*(P+2), O]
    out = A @ B  - 128 * sum(b planes) + 128 * sum(x != 0)  (per output position)

The -128 offsets put E_i, K (0..255) into int8; their correction is a box sum of a
per-pixel count, independent of the output channel: a one-channel convolution with a ones
kernel (so B keeps exactly O columns, which the int8 GEMM kernels much prefer to O+1).
The planes are cut from the activations before im2col (9x less data for 3x3 kernels),
channels-last so every tap copies contiguous runs. torch._int_mm computes int8 x int8 ->
int32 exactly (|partial sums| < 2^31 by construction: K*(P+2)*128*128 << 2^31 for any CNN layer
here; checked). Tables whose E or K do not fit 0..255 use exact float64 GEMMs instead.

The float route runs the same sum as ONE float32 convolution of the planes [x | b_i | x != 0] with
the weights [w | -E_i | K] (no offsets needed; channels-last, which oneDNN runs ~2x faster here): every partial sum is an integer whose magnitude is at
most sum(|x| |w|) <= 128 * sum|w| + sum|E_i| + |K| over the receptive field, checked below 2^24 per
layer, so float32 represents every intermediate exactly whatever order the library sums in. Where
int8 GEMMs have no fast kernel (CPUs without VNNI: torch._int_mm measured ~12x slower per call than the float32
convolution of the same size on an AVX2 EPYC) it is the fast one. Its planes are 4 bytes per plane per
activation, so they are made by one C pass (csrc/planeconv.c, float_planes) and convolved in chunks of
images that stay in cache.

Activations that are all >= 0 (every convolution after a ReLU) have bit 7 = 0: their decomposition drops
that error plane (P = 8 -> 7, every route), and the float route folds x into the bit planes where that
makes fewer channel groups (_float_layout). ResNet-20 at levels 255 / 100 / 50, AVX2 EPYC, 2 threads:
1.38x / 1.42x / 1.27x the evaluation speed before these three changes (interleaved runs in one
process, median; level 0, exact, unchanged).

On x86 CPUs with AVX-512 VNNI the same sum runs as an implicit GEMM in C (csrc/planeconv.c, see
its header for the unsigned variant of the planes vpdpbusd needs): no im2col is materialised,
which made the library GEMM stream 9 x planes x the activations from memory at a fraction of the
multiply rate (whole ResNet-32 at level 50: 5.3x -> 2.5x exact float32). The layers also let that
kernel quantize the float activations and dequantize its output in the same passes
(FastEngine.conv_float). On x86 CPUs with AVX2 but no VNNI, activations >= 0 (every convolution after a
ReLU) run the same implicit GEMM with vpmaddubsw (csrc/planeconv_avx2.c: why its 16-bit sums are exact):
approx ResNet-20 at levels 32-255 evaluated 1.7-2.1x faster than through the float route, level 0 3x and
faster than exact float32 (2-core AVX2 EPYC, batch 100). Where oneDNN's int8 convolution is exact (a CPU with
AVX-512 VNNI: onednn_available) the VNNI kernel's planes can also go to it (conv_onednn, u8 planes x s8 weights):
on CPUs with AMX it multiplies in tiles, 16x the bytes per instruction of vpdpbusd; it returns float32 sums, so
the route is offered only where every sum stays below 2^24, and the pixel correction is added after. The
timing per layer shape (cpu_route) picks it or the VNNI kernel. Elsewhere (signed activations there, no compiler)
the float route or im2col + torch._int_mm; on GPUs im2col + torch._int_mm, built in a handful of tensor ops
(_operands_torch: there each op is a kernel launch), with the layer's scales made once (layer_scales) and one
look at its activations per call (checked_nonneg: each value read back makes the host wait for the GPU).
"""
from __future__ import annotations

import math
import os
import time
import weakref

import torch
import torch.nn.functional as F

from ..quant import quant_scale
from .base import Engine, _pair, check_inputs, dequantize, register
from .build import load, workspace
from .decomposition import Decomposition, decompose, decomposition_for, for_nonneg  # noqa: F401  (this engine's API)
from .tensor_cache import owner, still_owned, tensor_key

class PreparedWeights:
    """The weight side for one (layer, level): cache it, it only changes with them. Each route
    builds its own layout on first use (a search visits many levels: only what runs is kept)."""

    def __init__(self, w: torch.Tensor, dec: Decomposition):
        self.w, self.dec, self.shape = w, dec, tuple(w.shape)
        self._B: torch.Tensor | None = None
        self._packed: tuple | None = None
        self._packed_avx2: tuple | None = None
        self._onednn: dict = {}
        self._wf: torch.Tensor | None | bool = None
        self._nonneg: PreparedWeights | None = None
        self._scales: tuple | None = None

    def for_input(self, x: torch.Tensor, nonneg: bool | None = None) -> "PreparedWeights":
        """These weights for activations x: when every x >= 0 (after a ReLU), those of the non-negative
        decomposition (one error plane fewer where P = 8; the float route's folded layout where P >= 7).
        nonneg: whether every x >= 0 when the caller knows (else looked at)."""
        if self.dec.nonneg or self.dec.planes < 7:
            return self
        if not (nonneg if nonneg is not None else not has_negative(x)):
            return self
        if self._nonneg is None:
            self._nonneg = PreparedWeights(self.w, for_nonneg(self.dec))
        return self._nonneg

    @property
    def B(self) -> torch.Tensor:
        """int8 or float64 [KH*KW*(P+2)*C, O] for the planes [x, -b_0 .. -b_{P-1}, x != 0], rows in
        (ky, kx, plane, c) order (see the module doc)."""
        if self._B is None:
            self._B = _gemm_weights(self.w, self.dec)
        return self._B

    def packed(self) -> tuple:
        """(bp, wconst, OBN, KC) for csrc/planeconv.c."""
        if self._packed is None:
            self._packed = _pack_vnni(self.w, self.dec)
        return self._packed

    def packed_avx2(self) -> tuple:
        """(bp, KC) for csrc/planeconv_avx2.c."""
        if self._packed_avx2 is None:
            self._packed_avx2 = _pack_avx2(self.w, self.dec)
        return self._packed_avx2

    def onednn(self, stride: tuple) -> tuple | None:
        """(packed weights, ones, zeros, bias = wconst as float32, KC) for oneDNN's int8 convolution at this
        stride, or None where a float32 could round one of its sums (_onednn_exact)."""
        if stride not in self._onednn:
            self._onednn[stride] = _pack_onednn(self.w, self.dec, stride)
        return self._onednn[stride]

    def float_weights(self) -> torch.Tensor | None:
        """float32 conv weights for the float route (_float_layout says which planes), or None when a
        float32 convolution could round: some output's largest possible |partial sum| reaches 2^24."""
        if self._wf is None:
            self._wf = _float_weights(self.w, self.dec)
        return self._wf if self._wf is not False else None


def prepare(w: torch.Tensor, dec: Decomposition) -> PreparedWeights:
    return PreparedWeights(w.contiguous(), dec)


def _error_terms(w: torch.Tensor, dec: Decomposition) -> tuple[torch.Tensor, torch.Tensor]:
    """E_i(w) int64 [P, O, C, KH, KW] and K(w) int64 [O, C, KH, KW] of these weights."""
    wu = w.to(torch.int64) & 0xFF
    return dec.E.to(w.device)[:, wu], dec.K.to(w.device)[wu]


def _gemm_weights(w: torch.Tensor, dec: Decomposition) -> torch.Tensor:
    o, c, kh, kw = w.shape
    if dec.exact:
        parts = [w]
    else:
        E, Kw = _error_terms(w, dec)
        if dec.int8:
            parts = [w] + [(E[i] - 128).to(torch.int8) for i in range(dec.planes)] + [(Kw - 128).to(torch.int8)]
        else:
            parts = [w.double()] + [E[i].double() for i in range(dec.planes)] + [Kw.double()]
    stack = torch.stack(parts)                                 # [planes, O, C, KH, KW]
    return stack.permute(3, 4, 0, 2, 1).reshape(-1, o).contiguous()   # rows (ky, kx, plane, c)


FLOAT_EXACT = 1 << 24  # float32 holds every integer below 2^24: sums that stay below it are exact


def _float_layout(dec: Decomposition) -> tuple[bool, int]:
    """(folded, bit planes) of the float route. Unfolded: [x | b_0 .. b_{P-1} | x != 0] (P + 2 groups of C
    channels). Folded: x = sum_{i<7} 2^i b_i - 128 b_7 goes into the bit planes' weights, so the planes are
    [b_0 .. b_{B-1} | x != 0] with weights [2^i w - E_i | K] (-128 w - E_7 for bit 7): B + 1 groups, B = 8,
    or 7 for non-negative activations (bit 7 is 0). The layout with fewer groups (convolution work is
    proportional to them) wins: folded where P = 8, or P = 7 with non-negative activations."""
    bits = 7 if dec.nonneg else 8
    if not dec.exact and bits + 1 < dec.planes + 2:
        return True, bits
    return False, dec.planes


def _float_weights(w: torch.Tensor, dec: Decomposition) -> torch.Tensor | bool:
    """The float route's conv weights (planes on the channel axis; _float_layout), or False when not
    exact. Every partial sum of a convolution, in any order, is at most sum(|a| * |b|) over its terms;
    with |x| <= 128 and the bit / non-zero planes in {-1, 0, 1} that is the bound checked per output
    channel."""
    folded, bits = _float_layout(dec)
    wi = w.to(torch.int64)
    if dec.exact:
        parts = [wi]
    elif folded:
        E, Kw = _error_terms(w, dec)
        coef = [1 << i for i in range(7)] + [-128]
        parts = [coef[i] * wi - (E[i] if i < dec.planes else 0) for i in range(bits)] + [Kw]
    else:
        E, Kw = _error_terms(w, dec)
        parts = [wi] + [-E[i] for i in range(dec.planes)] + [Kw]
    stack = torch.cat(parts, dim=1)                              # [O, groups*C, KH, KW]
    scale = torch.ones(stack.shape[1], dtype=torch.int64, device=w.device)
    if not folded:
        scale[:w.shape[1]] = 128
    bound = (stack.abs() * scale.view(1, -1, 1, 1)).sum(dim=(1, 2, 3)).max()
    if int(bound) >= FLOAT_EXACT:
        return False
    stack = stack.to(torch.float32)
    return stack if dec.exact else stack.contiguous(memory_format=torch.channels_last)


def _float_planes(x: torch.Tensor, dec: Decomposition) -> torch.Tensor:
    """[x | b_0 .. b_{P-1} | x != 0], or folded [b_0 .. b_{B-1} | x != 0] (_float_layout), float32
    [N, groups*C, H, W], channels-last (the layout oneDNN's convolutions run fastest here): the
    activation side of the float route (the weights carry -E_i)."""
    if dec.exact:  # one plane: the layout it came in (channels-last measured no faster for it)
        return x.to(torch.float32)
    folded, bits = _float_layout(dec)
    first = 0 if folded else 1
    n, c, h, w = x.shape
    if x.device.type == "cpu" and _c_kernels():
        table = _plane_table(folded, bits)
        g = table.shape[1]
        out = torch.empty(n, h, w, g * c, dtype=torch.float32)
        lib = load()
        rc = lib.lib.float_planes(lib.ffi.cast("int8_t *", x.data_ptr()), *x.stride(),
                                  lib.ffi.cast("float *", table.data_ptr()), g,
                                  lib.ffi.cast("float *", out.data_ptr()), n, c, h, w, torch.get_num_threads())
        if rc != 0:
            raise RuntimeError(f"float_planes rejected the shapes (code {rc})")
        return out.permute(0, 3, 1, 2)
    xh = x.permute(0, 2, 3, 1).contiguous()
    out = torch.empty(n, h, w, first + bits + 1, c, dtype=torch.float32, device=x.device)
    if not folded:
        out[..., 0, :] = xh
    shifts = torch.arange(bits, dtype=torch.uint8, device=x.device).view(1, 1, 1, -1, 1)
    out[..., first:first + bits, :] = (xh.view(torch.uint8).unsqueeze(3) >> shifts) & 1
    out[..., first + bits, :] = xh != 0
    return out.view(n, h, w, -1).permute(0, 3, 1, 2)


_TABLES: dict = {}


def _plane_table(folded: bool, bits: int) -> torch.Tensor:
    """float32 [256, groups]: each byte's values in the float route's planes (as _float_planes lays them)."""
    key = (folded, bits)
    if key not in _TABLES:
        v = torch.arange(256, dtype=torch.int64)
        cols = ([] if folded else [torch.where(v >= 128, v - 256, v)]) + [(v >> i) & 1 for i in range(bits)] \
            + [(v != 0).long()]
        _TABLES[key] = torch.stack(cols, 1).to(torch.float32).contiguous()
    return _TABLES[key]


def float_route_ok() -> bool:
    """float32 convolutions compute in IEEE float32 here (not bf16 / TF32 shortcuts a user may switch on)."""
    conv = getattr(getattr(torch.backends, "mkldnn", None), "conv", None)
    return (torch.get_float32_matmul_precision() == "highest"
            and getattr(conv, "fp32_precision", "none") in ("none", "ieee"))


PLANE_BYTES = 8 << 20  # float planes per chunk of images: written, then read by the conv while still in cache


def _conv_float32(x: torch.Tensor, prepared: "PreparedWeights", s, p) -> torch.Tensor:
    """The decomposition as ONE float32 convolution of the planes (the library's conv, oneDNN on CPUs):
    bit-exact because every partial sum is an integer below 2^24 (PreparedWeights.float_weights).
    The planes are 4 x groups bytes per activation byte, so a whole batch's goes through memory twice
    (written, read); in chunks of about PLANE_BYTES they stay in cache (ResNet-20 at level 255, AVX2
    EPYC: 1.13x the whole-batch convolution)."""
    wf = prepared.float_weights()
    per_image = 4 * wf.shape[1] * x.shape[2] * x.shape[3]
    size = max(1, PLANE_BYTES // per_image)
    outs = [F.conv2d(_float_planes(xc, prepared.dec), wf, stride=s, padding=p) for xc in x.split(size)]
    out = outs[0] if len(outs) == 1 else torch.cat(outs)
    return out.to(torch.int32).contiguous()


def _plane_rows(w: torch.Tensor, dec: Decomposition) -> tuple[torch.Tensor, int, int]:
    """(rows, planes, KC): the planes kernels' signed weight rows [w | 127 - E_i | K - 128] per tap, int8
    [O, tap, KC], k = plane*C + c, padded with zeros to KC (a multiple of 4)."""
    o, c, kh, kw = w.shape
    w = w.cpu()
    if dec.exact:
        parts = [w]
    else:
        E, Kw = _error_terms(w, dec)
        parts = [w] + [(127 - E[i]).to(torch.int8) for i in range(dec.planes)] + [(Kw - 128).to(torch.int8)]
    np_ = len(parts)
    kc = -(-np_ * c // 4) * 4
    rows = torch.stack(parts).permute(1, 3, 4, 0, 2).reshape(o, kh * kw, np_ * c)   # [O, tap, k]
    return F.pad(rows, (0, kc - np_ * c)), np_, kc


def _pack_rows(w: torch.Tensor, dec: Decomposition, lanes: int, obn: int) -> tuple[torch.Tensor, int]:
    """(bp, KC): _plane_rows laid out [group][tap][k/4][obn][lanes][4] (O padded with zero rows)."""
    o, _, kh, kw = w.shape
    rows, _, kc = _plane_rows(w, dec)
    og = lanes * obn
    groups = -(-o // og)
    rows = F.pad(rows, (0, 0, 0, 0, 0, groups * og - o))
    bp = rows.view(groups, obn, lanes, kh * kw, kc // 4, 4).permute(0, 3, 4, 1, 2, 5).contiguous()
    return bp, kc


def _pack_vnni(w: torch.Tensor, dec: Decomposition) -> tuple:
    """Weights for the VNNI kernel (csrc/planeconv.c): _pack_rows in groups of 16 x OBN output channels, and
    wconst = -128 sum(w) per output channel (its x plane holds x + 128)."""
    o = w.shape[0]
    obn = 1 if o <= 16 else 2 if o <= 32 else 4
    bp, kc = _pack_rows(w, dec, 16, obn)
    wconst = F.pad(-128 * w.cpu().to(torch.int32).sum(dim=(1, 2, 3)), (0, bp.shape[0] * 16 * obn - o))
    return bp, wconst.to(torch.int32).contiguous(), obn, kc


def _pack_avx2(w: torch.Tensor, dec: Decomposition) -> tuple:
    """Weights for the AVX2 kernel (csrc/planeconv_avx2.c): _pack_rows in groups of 8 output channels."""
    return _pack_rows(w, dec, 8, 1)


def _onednn_exact(w: torch.Tensor, dec: Decomposition, rows: torch.Tensor) -> bool:
    """oneDNN sums the planes in int32 (exact) but hands the sum over as a float32, to which the bias
    (wconst) and the box-summed pixel correction are added: exact while each of those stays below 2^24. A
    bound: the x plane holds x + 128 <= 255, the other planes 0 or 1."""
    o, c, kh, kw = w.shape
    r = rows.to(torch.int64).abs()
    dot = 255 * r[:, :, :c].sum(dim=(1, 2)) + r[:, :, c:].sum(dim=(1, 2))  # each tap's row: the x plane first
    planes = -1 if dec.exact else dec.planes
    box = 0 if planes < 0 else kh * kw * c * max(128, 127 * planes)
    return bool((dot + 128 * w.to(torch.int64).abs().sum(dim=(1, 2, 3)) + box).max() < 2 ** 24)


def _pack_onednn(w: torch.Tensor, dec: Decomposition, stride: tuple) -> tuple | None:
    """Weights for oneDNN's int8 convolution of the VNNI kernel's planes (conv_onednn): its signed rows as
    [O, KC, KH, KW], prepacked for this stride, with wconst = -128 sum(w) as a float32 bias; None where
    _onednn_exact does not hold."""
    o, c, kh, kw = w.shape
    rows, _, kc = _plane_rows(w, dec)
    if not _onednn_exact(w, dec, rows):
        return None
    rows = rows.view(o, kh, kw, kc).permute(0, 3, 1, 2).contiguous()
    ones, zeros = torch.ones(o, dtype=torch.float32), torch.zeros(o, dtype=torch.int64)
    qw = torch.ops.onednn.qconv_prepack(rows, ones, 1.0, 0, list(stride), [0, 0], [1, 1], 1, None)
    wconst = (-128 * w.cpu().to(torch.int64).sum(dim=(1, 2, 3))).to(torch.float32)
    return qw, ones, zeros, wconst, kc


_ONEDNN: bool | None = None


def onednn_available() -> bool:
    """oneDNN's u8 x s8 convolution (torch.ops.onednn.qconv2d_pointwise) can run the planes exactly here: an
    x86 CPU with AVX-512 VNNI (oneDNN then multiplies with vpdpbusd, or with AMX tiles where the CPU has them;
    without VNNI its int8 kernels add pairs of products in 16 bits, which saturate), the op in this torch and
    the C planes pass; and a probe at that saturation's extremes (x + 128 = 255 against weights of -128)
    computes exactly. AXX_FAST_ONEDNN=0 turns it off."""
    global _ONEDNN
    if _ONEDNN is None:
        _ONEDNN = False
        if os.environ.get("AXX_FAST_ONEDNN", "1") != "0" and hasattr(torch.ops.onednn, "qconv2d_pointwise"):
            try:
                if load().lib.planeconv_supported():
                    qx = torch.full((1, 3, 3, 64), 255, dtype=torch.uint8).permute(0, 3, 1, 2)
                    w = torch.full((16, 64, 3, 3), -128, dtype=torch.int8)
                    ones, zeros = torch.ones(16), torch.zeros(16, dtype=torch.int64)
                    qw = torch.ops.onednn.qconv_prepack(w, ones, 1.0, 0, [1, 1], [0, 0], [1, 1], 1, None)
                    out = torch.ops.onednn.qconv2d_pointwise(qx, 1.0, 0, qw, ones, zeros, None, [1, 1], [0, 0],
                                                             [1, 1], 1, 1.0, 0, torch.float32, "none", [], "")
                    _ONEDNN = bool((out == -255 * 128 * 576).all())
            except Exception:  # an old torch, no oneDNN, no compiler: the other routes are exact too
                _ONEDNN = False
    return _ONEDNN


_VNNI: bool | None = None


def vnni_available() -> bool:
    """The implicit-GEMM VNNI kernel can run here (x86 with AVX-512 VNNI, a C compiler;
    AXX_FAST_VNNI=0 turns it off, e.g. to time or test the portable path)."""
    global _VNNI
    if _VNNI is None:
        _VNNI = False
        if os.environ.get("AXX_FAST_VNNI", "1") != "0":
            try:
                _VNNI = bool(load().lib.planeconv_supported())
            except Exception:  # no compiler: the portable paths below are exact too
                _VNNI = False
    return _VNNI


_AVX2: bool | None = None
_SIGNED: set = set()  # (input shape less the batch, weight shape) of layers whose planes pass met a negative one


class NegativeActivations(ValueError):
    """The AVX2 kernel met an activation < 0 (its 16-bit pair sums could saturate): nothing was computed."""


def avx2_available() -> bool:
    """The implicit-GEMM AVX2 kernel can run here (x86 with AVX2, a C compiler; AXX_FAST_AVX2=0 turns it
    off). It takes activations >= 0 only (csrc/planeconv_avx2.c: 16-bit pair sums)."""
    global _AVX2
    if _AVX2 is None:
        _AVX2 = False
        if os.environ.get("AXX_FAST_AVX2", "1") != "0":
            try:
                _AVX2 = bool(load().lib.planeconv_avx2_supported())
            except Exception:  # no compiler: the other routes are exact too
                _AVX2 = False
    return _AVX2


def conv_vnni(x: torch.Tensor, prepared: PreparedWeights, stride, padding, act_scale: float | None = None,
              out_scale: float | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    """The convolution through csrc/planeconv.c (needs vnni_available()): planes, then the implicit
    GEMM. x is int8, or float32 with act_scale given: it is then quantized in the same pass exactly
    as quant.to_int8 does (round half to even, clamp to -128..127). Returns the int32 accumulators,
    or with out_scale the dequantized float32 acc * out_scale (+ bias), rounded as torch rounds
    those two operations. The result is [N, O, OH, OW] as a channels-last view: the kernel writes
    each pixel's channels together, and the next layer's planes read either layout."""
    return _conv_planes(x, prepared, stride, padding, act_scale, out_scale, bias, "vnni")


def conv_avx2(x: torch.Tensor, prepared: PreparedWeights, stride, padding, act_scale: float | None = None,
              out_scale: float | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    """conv_vnni through csrc/planeconv_avx2.c (needs avx2_available()), for activations >= 0 only (a
    negative one: ValueError)."""
    return _conv_planes(x, prepared, stride, padding, act_scale, out_scale, bias, "avx2")


def _planes(x: torch.Tensor, dec: Decomposition, kc: int, s, p, act_scale,
            xoff: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """csrc/planeconv.c's planes pass: (work, uint8 [N, HP, WP, KC] in this thread's workspace, with room
    for the kernels' tile overrun; pix, int32 [N, HP, WP], or None for an exact table). x is int8, or
    float32 quantized in the same pass with act_scale (exactly as quant.to_int8). A negative quantized
    activation raises NegativeActivations where the planes are right for activations >= 0 only: the AVX2
    kernel's (xoff 0), a non-negative decomposition's (dec.nonneg: its sign plane dropped)."""
    lib = load()
    n, ch, h, w_ = x.shape
    hp, wp = h + 2 * p[0], w_ + 2 * p[1]
    P = -1 if dec.exact else dec.planes
    work = workspace("planes", n * hp * wp * kc + (_TILE + 1) * s[1] * kc + 64)
    pix = None if P < 0 else torch.empty(n, hp, wp, dtype=torch.int32)
    ffi = lib.ffi
    if act_scale is None:
        xi, xf = _ptr(ffi, x, "int8_t *"), ffi.NULL
    else:
        if x.dtype != torch.float32:
            raise TypeError(f"the planes kernels quantize float32 activations, got {x.dtype}")
        xi, xf = ffi.NULL, _ptr(ffi, x, "float *")
    rc = lib.lib.planeconv_planes(xi, xf, float(act_scale or 0.0), *x.stride(), _ptr(ffi, work, "uint8_t *"),
                                  _ptr(ffi, pix, "int32_t *"), n, ch, h, w_, p[0], p[1], P, kc, xoff,
                                  int(xoff == 0 or dec.nonneg), torch.get_num_threads())
    if rc == -3:
        raise ValueError("activations contain NaN or inf: cannot quantize them for the multiplier")
    if rc == -5:
        raise NegativeActivations("these planes take activations >= 0 only (after a ReLU): the AVX2 kernel's, "
                                  "a non-negative decomposition's; use another route or decomposition")
    if rc != 0:
        raise RuntimeError(f"planeconv_planes rejected the shapes (code {rc})")
    return work, pix


def _ptr(ffi, t: torch.Tensor | None, ty: str):
    return ffi.cast(ty, t.data_ptr()) if t is not None else ffi.NULL


def _conv_planes(x: torch.Tensor, prepared: PreparedWeights, stride, padding, act_scale, out_scale, bias,
                 kernel: str) -> torch.Tensor:
    lib = load()
    if kernel == "vnni":
        bp, wconst, obn, kc = prepared.packed()
    else:
        (bp, kc), wconst, obn = prepared.packed_avx2(), None, 1
    o, _, kh, kw = prepared.shape
    n, ch, h, w_ = x.shape
    s, p = _pair(stride), _pair(padding)
    oh, ow = (h + 2 * p[0] - kh) // s[0] + 1, (w_ + 2 * p[1] - kw) // s[1] + 1
    hp, wp = h + 2 * p[0], w_ + 2 * p[1]
    work, pix = _planes(x, prepared.dec, kc, s, p, act_scale, 128 if kernel == "vnni" else 0)
    ffi, nt = lib.ffi, torch.get_num_threads()
    ptr = lambda t, ty: _ptr(ffi, t, ty)  # noqa: E731
    if out_scale is None:
        out, outf = torch.empty(n, oh, ow, o, dtype=torch.int32), None
    else:
        out, outf = None, torch.empty(n, oh, ow, o, dtype=torch.float32)
        if bias is not None:
            bias = bias.detach().to(torch.float32).contiguous()
    if kernel == "vnni":
        rc = lib.lib.planeconv_gemm(ptr(work, "uint8_t *"), ptr(pix, "int32_t *"), ptr(bp, "int8_t *"),
                                    ptr(wconst, "int32_t *"), ptr(out, "int32_t *"), ptr(outf, "float *"),
                                    float(out_scale or 0.0), ptr(bias, "float *"), n, hp, wp, kc, o, obn, kh, kw,
                                    s[0], s[1], oh, ow, nt)
    else:  # the quads that hold x-plane bytes: their 16-bit pair sums are widened at once
        rc = lib.lib.planeconv_avx2_gemm(ptr(work, "uint8_t *"), ptr(pix, "int32_t *"), ptr(bp, "int8_t *"),
                                         ptr(out, "int32_t *"), ptr(outf, "float *"), float(out_scale or 0.0),
                                         ptr(bias, "float *"), n, hp, wp, kc, -(-ch // 4), o, kh, kw, s[0], s[1],
                                         oh, ow, nt)
    if rc != 0:
        raise RuntimeError(f"planeconv_{'gemm' if kernel == 'vnni' else 'avx2_gemm'} rejected the shapes (code {rc})")
    return (out if outf is None else outf).permute(0, 3, 1, 2)


def conv_onednn(x: torch.Tensor, prepared: PreparedWeights, stride, padding, act_scale: float | None = None,
                scale: torch.Tensor | None = None, bias: torch.Tensor | None = None, tail=None):
    """The VNNI kernel's planes convolved by oneDNN's int8 convolution (needs onednn_available() and
    prepared.onednn(stride)): on CPUs with AMX its tiles multiply 16x the bytes per instruction that vpdpbusd
    does. oneDNN returns the int32 sums as float32 (exact: _onednn_exact), wconst added as its bias; the
    box-summed pixel correction is added after. Returns the int32 accumulators or, with scale (the layer's
    dequantization factor, a tensor), acc * scale (+ bias) computed as base.dequantize computes them; x is int8,
    or float32 quantized in the planes pass with act_scale. [N, O, OH, OW], channels-last. With scale and an
    eval tail (engines/tail.py), the (z, u) it makes, in the epilogue's pass."""
    packed = prepared.onednn(_pair(stride))
    if packed is None:
        raise ValueError("oneDNN's route cannot run these weights exactly (a sum could reach 2^24)")
    qw, ones, zeros, wconst, kc = packed
    o, _, kh, kw = prepared.shape
    n, _, h, w_ = x.shape
    s, p = _pair(stride), _pair(padding)
    oh, ow = (h + 2 * p[0] - kh) // s[0] + 1, (w_ + 2 * p[1] - kw) // s[1] + 1
    hp, wp = h + 2 * p[0], w_ + 2 * p[1]
    work, pix = _planes(x, prepared.dec, kc, s, p, act_scale, 128)
    qx = work[:n * hp * wp * kc].view(torch.uint8).view(n, hp, wp, kc).permute(0, 3, 1, 2)
    out = torch.ops.onednn.qconv2d_pointwise(qx, 1.0, 0, qw, ones, zeros, wconst, list(s), [0, 0], [1, 1], 1,
                                             1.0, 0, torch.float32, "none", [], "")
    box = None if pix is None else _box_sum(pix, kh, kw, s, oh, ow)
    if scale is None:
        return (out if box is None else out.add_(box.view(n, 1, oh, ow))).to(torch.int32)
    out = out.contiguous(memory_format=torch.channels_last)  # oneDNN writes it so: a no-op
    lib = load()
    b = None if bias is None else bias.detach().to(torch.float32).contiguous()
    fits = tail is not None and tail.fits(out)
    post, made = tail.c_args(out) if fits else ((lib.ffi.NULL,) * 3 + (0, 0, lib.ffi.NULL), out)
    rc = lib.lib.planeconv_epilogue(_ptr(lib.ffi, out, "float *"), _ptr(lib.ffi, box, "int32_t *"), float(scale),
                                    _ptr(lib.ffi, b, "float *"), *post, n * oh * ow, o, torch.get_num_threads())
    if rc != 0:
        raise RuntimeError(f"planeconv_epilogue rejected the shapes (code {rc})")
    return made


_TILE = 8  # PC_R in csrc/planeconv.c


_GEMM_TABLES: dict = {}


def _gemm_plane_table(dec: Decomposition, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """([G, 256], plane index [1, 1, 1, G, 1]): each byte's values in the GEMM route's planes [x, -b_0 ..
    -b_{P-1}, x != 0] (x alone for an exact table), int8 (float64 where E or K exceed int8), on `device`."""
    planes = -1 if dec.exact else dec.planes
    dtype = torch.int8 if (dec.int8 or dec.exact) else torch.float64
    key = (planes, dtype, str(device))
    if key not in _GEMM_TABLES:
        # the float route's columns [x, b_0 .. b_{P-1}, x != 0], transposed, the bit planes negated
        t = _plane_table(False, max(planes, 0)).T.to(torch.int64)
        t = t[:1] if planes < 0 else torch.cat([t[:1], -t[1:1 + planes], t[1 + planes:]])
        _GEMM_TABLES[key] = (t.to(device=device, dtype=dtype).contiguous(),
                             torch.arange(t.shape[0], device=device).view(1, 1, 1, -1, 1))
    return _GEMM_TABLES[key]


def _windows(t: torch.Tensor, kh: int, kw: int, s, oh: int, ow: int) -> torch.Tensor:
    """[N, HP, WP, ...] (contiguous, padded) -> the view [N, OH, OW, KH, KW, ...] of each output's receptive field."""
    n, rest = t.shape[0], t.shape[3:]
    st = t.stride()
    return t.as_strided((n, oh, ow, kh, kw, *rest), (st[0], s[0] * st[1], s[1] * st[2], st[1], st[2], *st[3:]))


def _box_sum(corr: torch.Tensor, kh: int, kw: int, s, oh: int, ow: int, separable: bool = True) -> torch.Tensor:
    """Sum of the per-pixel correction [N, HP, WP] (padded) over each receptive field: int32 [N*OH*OW], in
    integers (a float convolution is exact only without TF32 and Winograd, which a GPU may use). separable: as
    KW - 1 + KH - 1 adds of strided slices (the CPU routes: one sum over the [N, OH, OW, KH, KW] window view
    took 20x as long there, ResNet stage shapes, one thread, and was 12 % of an approx ResNet-20 evaluation
    through oneDNN's route); else that one sum (the torch-ops route, written for GPUs: one kernel launch)."""
    c = corr.contiguous()
    if not separable:
        return _windows(c, kh, kw, s, oh, ow).sum(dim=(3, 4), dtype=torch.int32).reshape(-1)
    rows = c[:, :, 0:(ow - 1) * s[1] + 1:s[1]]
    for j in range(1, kw):
        rows = rows + c[:, :, j:j + (ow - 1) * s[1] + 1:s[1]]
    out = rows[:, 0:(oh - 1) * s[0] + 1:s[0]]
    for i in range(1, kh):
        out = out + rows[:, i:i + (oh - 1) * s[0] + 1:s[0]]
    return out.reshape(-1)


def _operands_torch(x: torch.Tensor, dec: Decomposition, kh: int, kw: int, s, p, oh: int, ow: int):
    """(A, box-summed correction or None) in a handful of tensor ops: pad the bytes (a zero byte has all
    planes zero), gather every plane of every byte from a table straight into the (plane, channel) layout,
    one strided copy for im2col, one reduction for the correction. On a GPU each op is a kernel launch, and
    the launches, not the bytes, bound a search's small layers (the per-plane version made ~90 ops a
    layer: an H200 evaluated approx ResNet-32 no faster than a 16-core CPU)."""
    n, c = x.shape[:2]
    xh = x.permute(0, 2, 3, 1)
    if any(p):
        xh = F.pad(xh, (0, 0, p[1], p[1], p[0], p[0]))
    table, gidx = _gemm_plane_table(dec, x.device)
    g = table.shape[0]
    planes = table[gidx, xh.view(torch.uint8).long().unsqueeze(3)]  # [N, HP, WP, G, C]; both indices int64
    a = _windows(planes, kh, kw, s, oh, ow).reshape(n * oh * ow, kh * kw * g * c)
    box = None
    if g > 1 and dec.int8:  # (an exact table has one plane)
        # (x != 0) - sum_i b_i, the -128 offsets' correction: the planes after x, summed
        box = _box_sum(planes[:, :, :, 1:, :].sum(dim=(3, 4), dtype=torch.int32), kh, kw, s, oh, ow,
                       separable=False)
    return a, box


_C_IM2COL: bool | None = None


def _c_kernels() -> bool:
    """The C kernels (csrc/) can be built here; without a compiler the torch versions are exact too, only
    slower. AXX_FAST_C=0 turns them off (to test those versions)."""
    global _C_IM2COL
    if _C_IM2COL is None:
        _C_IM2COL = False
        if os.environ.get("AXX_FAST_C", "1") != "0":
            try:
                load()
                _C_IM2COL = True
            except Exception:
                _C_IM2COL = False
    return _C_IM2COL


def _operands(x, dec: Decomposition, kh: int, kw: int, s, p, oh: int, ow: int):
    """(A, the offsets' correction summed over each receptive field, int32 [N*OH*OW], or None): the C kernel
    on the CPU (int8 path), torch ops elsewhere."""
    if x.device.type == "cpu" and (dec.int8 or dec.exact) and _c_kernels():
        a, corr = im2col_planes(x, kh, kw, s, p, oh, ow, -1 if dec.exact else dec.planes)
        return a, (None if corr is None else _box_sum(F.pad(corr, (p[1], p[1], p[0], p[0])), kh, kw, s, oh, ow))
    return _operands_torch(x, dec, kh, kw, s, p, oh, ow)


def im2col_planes(x: torch.Tensor, kh: int, kw: int, s, p, oh: int, ow: int,
                  planes: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Plane extraction + im2col for the fast engine (see csrc/lutconv.c); planes = -1 for x only.
    Returns A, int8 [N*OH*OW, KH*KW*(planes+2)*C] (a view of this thread's workspace, valid until
    the next call), and the per-pixel offset correction int32 [N, H, W] (None for planes = -1)."""
    lib = load()
    x = x.contiguous()
    n, c, h, w = x.shape
    np_ = 1 if planes < 0 else planes + 2
    a = workspace("a", n * oh * ow * kh * kw * np_ * c).view(n * oh * ow, kh * kw * np_ * c)
    work = workspace("work", n * h * w * np_ * c)
    corr = torch.empty(n, h, w, dtype=torch.int32) if planes >= 0 else None
    ffi = lib.ffi
    rc = lib.lib.im2col_planes(ffi.cast("int8_t *", x.data_ptr()), ffi.cast("int8_t *", work.data_ptr()),
                               ffi.cast("int8_t *", a.data_ptr()),
                               ffi.cast("int32_t *", corr.data_ptr()) if corr is not None else ffi.NULL,
                               n, c, h, w, kh, kw, s[0], s[1], p[0], p[1], oh, ow, planes, torch.get_num_threads())
    if rc != 0:
        raise RuntimeError(f"im2col_planes rejected the shapes (code {rc})")
    return a, corr


def _canonical(t: torch.Tensor) -> torch.Tensor:
    """Row-major strides, also for size-1 dimensions: torch._int_mm (2.13, CPU) returns garbage for a
    [K, 1] operand whose legal but non-canonical stride is (1, 2), which .contiguous() keeps."""
    t = t.contiguous()
    return t if t.stride() == (t.shape[1], 1) else t.reshape(-1).view(t.shape)


def _mm_int8(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = _canonical(a), _canonical(b)
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


# (kind, shapes) -> "vnni" | "avx2" | "onednn" | "int_mm" | "float": the fastest CPU route, timed once per process
_ROUTES: dict = {}
_SLOW: set = set()   # (route, layer shape) far slower than the fastest there: not timed again for that shape
SLOW_FACTOR = 2.0


def _best_of_two(fn) -> float:
    ts = []
    for _ in range(2):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def cpu_route(key: tuple, routes: dict) -> str:
    """Which CPU route runs a layer shape: of the routes that can run it here ({name: fn}; 'vnni' needs
    AVX-512 VNNI, 'avx2' AVX2 and activations >= 0, 'float' sums below 2^24), the fastest, timed once (best of
    two runs each after a warm-up call, unless the warm-up alone is far slower than the best so far) and cached
    per key. All are bit-exact, so the choice changes only the speed: without VNNI torch._int_mm was ~12x slower
    than the float32 convolution (ResNet-8 layers, AVX2 EPYC); with AMX oneDNN's int8 GEMM may beat the VNNI
    kernel. A route that took over SLOW_FACTOR x the fastest for a layer shape (key[:5]) is not timed again for
    that shape at other levels (the key also holds the number of planes: a search that draws levels per layer
    met ~30 keys per ResNet-32, and timing torch._int_mm for each cost 28 % of its evaluations).
    AXX_FAST_ROUTE=vnni|avx2|onednn|int_mm|float fixes the choice where that route can run."""
    forced = os.environ.get("AXX_FAST_ROUTE")
    if forced in routes:
        return forced
    if len(routes) == 1:
        return next(iter(routes))
    route = _ROUTES.get(key)
    if route not in routes:  # not timed yet (or timed where another route could run: never reuse it blindly)
        shape = key[:5]
        candidates = {n: fn for n, fn in routes.items() if (n, shape) not in _SLOW} or routes
        if len(candidates) == 1:
            route = _ROUTES[key] = next(iter(candidates))
            return route
        times: dict[str, float] = {}
        for name, fn in candidates.items():
            t = time.perf_counter()
            fn()  # warm-up: workspaces, packed weights, oneDNN's kernel selection
            warm = time.perf_counter() - t
            best = min(times.values(), default=float("inf"))
            # a route whose first call alone is 5x the best so far is not timed again (int8 GEMMs without
            # VNNI took ~12x the float32 route here: timing them twice more would cost more than it tells)
            times[name] = warm if warm > 5 * best and warm > 0.01 else _best_of_two(fn)
        fastest = min(times.values())
        _SLOW.update((n, shape) for n, t in times.items() if t > SLOW_FACTOR * fastest)
        route = _ROUTES[key] = min(times, key=times.get)
    return route


def conv(x: torch.Tensor, w: torch.Tensor, lut: torch.Tensor, stride=1, padding=0,
         prepared: PreparedWeights | None = None, route: str | None = None,
         nonneg: bool | None = None) -> torch.Tensor:
    """route: None picks per shape (cpu_route); 'vnni', 'avx2', 'onednn', 'int_mm' or 'float' forces one (an
    error where it cannot run: 'vnni' without the instructions, 'float' or 'onednn' where a sum could reach
    2^24). nonneg: True when the
    caller knows every x >= 0 (spares a pass over x and, on a GPU, a wait for it); None: looked at."""
    x, w, lut, s, p, (oh, ow) = check_inputs(x, w, lut, stride, padding, contiguous=False)
    w = w.contiguous()
    dec = prepared.dec if prepared is not None else decomposition_for(lut)
    if dec is None:
        raise ValueError("this LUT does not decompose exactly; use engine 'c', 'cuda' or 'reference'")
    if prepared is None or prepared.shape != tuple(w.shape):
        prepared = prepare(w, dec)
    prepared = prepared.for_input(x, nonneg or None)
    dec = prepared.dec
    if x.device.type != "cpu":
        return _conv_int_mm(x, prepared, s, p, oh, ow)
    # looked at only where the AVX2 kernel could take it (a pass over x on every call otherwise)
    nonneg = not vnni_available() and avx2_available() and (bool(nonneg) or _nonneg(x, dec))
    routes = cpu_routes(x, prepared, s, p, oh, ow, nonneg)
    if route is not None:
        if route not in routes:
            raise ValueError(f"route {route!r} cannot run this convolution here (available: {', '.join(routes)})")
        return routes[route]()
    key = ("acc", tuple(x.shape), prepared.shape, s, p, dec.planes, dec.nonneg, dec.int8, nonneg)
    return routes[cpu_route(key, routes)]()


def _nonneg(x: torch.Tensor, dec: Decomposition) -> bool:
    """Every activation >= 0 (the AVX2 kernel's condition): known from the decomposition, else looked at."""
    return dec.nonneg or not has_negative(x)


def checked_nonneg(x: torch.Tensor) -> bool:
    """Every activation >= 0, and an error where one is NaN or inf (the multiplier's int8 cannot hold them):
    one pass and one wait for the device, for what were two of each (isfinite().all(), then amin)."""
    if x.numel() == 0:
        return True
    lo, hi = torch.stack(torch.aminmax(x)).tolist()  # aminmax propagates NaN
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("activations contain NaN or inf: cannot quantize them for the multiplier")
    return lo >= 0


def layer_scales(prepared: PreparedWeights, act_amax: torch.Tensor, w_scale: torch.Tensor,
                 x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """(s, s_act * s_w in x's dtype, and both as Python floats): a layer's static quantization scale and its
    dequantization factor, the values to_int8 and dequantize compute, made once per content of act_amax and
    w_scale and kept on `prepared` (on a GPU they were ~10 scalar kernels and waits per call)."""
    key = (tensor_key(act_amax), tensor_key(w_scale), x.dtype, str(x.device))
    hit = prepared._scales
    if hit is not None and hit[0] == key and still_owned(hit[1], act_amax) and still_owned(hit[2], w_scale):
        return hit[3]
    s = quant_scale(x, 8, act_amax)
    out = (1.0 / s) * w_scale
    value = (s, out.to(x.dtype), float(s), float(out))
    prepared._scales = (key, weakref.ref(owner(act_amax)), weakref.ref(owner(w_scale)), value)
    return value


def has_negative(x: torch.Tensor) -> bool:
    """Some element < 0 (NaN is not: quantization refuses it later). amin: one vectorised pass, ~10x faster
    than (x < 0).any(), which writes a bool tensor first (that cost 6 % of an approx ResNet-20 forward)."""
    return x.numel() > 0 and bool(x.amin() < 0)


def cpu_routes(x: torch.Tensor, prepared: PreparedWeights, s, p, oh: int, ow: int, nonneg: bool = False) -> dict:
    """{name: fn} of the CPU routes that can compute this convolution here (each bit-exact). nonneg: every
    activation is >= 0 (then the AVX2 kernel can run it, where VNNI is absent)."""
    dec = prepared.dec
    routes = {}
    if (dec.int8 or dec.exact) and vnni_available():
        routes["vnni"] = lambda: conv_vnni(x, prepared, s, p)
    elif (dec.int8 or dec.exact) and nonneg and avx2_available():
        routes["avx2"] = lambda: conv_avx2(x, prepared, s, p)
    if (dec.int8 or dec.exact) and onednn_available() and prepared.onednn(s) is not None:
        routes["onednn"] = lambda: conv_onednn(x, prepared, s, p)
    if float_route_ok() and prepared.float_weights() is not None:
        routes["float"] = lambda: _conv_float32(x, prepared, s, p)
    routes["int_mm"] = lambda: _conv_int_mm(x, prepared, s, p, oh, ow)  # last: the slowest where int8 is slow
    return routes


def _conv_int_mm(x: torch.Tensor, prepared: PreparedWeights, s, p, oh: int, ow: int) -> torch.Tensor:
    """im2col of the planes + one GEMM (torch._int_mm, or float64 for tables whose terms exceed int8)."""
    dec = prepared.dec
    x = x.contiguous()
    n, (o, _, kh, kw) = x.shape[0], prepared.shape
    a, box = _operands(x, dec, kh, kw, s, p, oh, ow)
    if dec.int8 or dec.exact:
        out = _mm_int8(a, prepared.B)
        if box is not None:
            out = out.add_(box.view(-1, 1), alpha=128)
    else:
        out = (a @ prepared.B).round().to(torch.int32)         # exact: |sums| << 2^53
    return out.reshape(n, oh, ow, o).permute(0, 3, 1, 2).contiguous()


@register
class FastEngine(Engine):
    """The exact decomposition (tables that decompose only); on the CPU the VNNI or AVX2 kernel, oneDNN's int8
    convolution of the planes, im2col + torch._int_mm or one float32 convolution of the planes, whichever is
    fastest for the shape (cpu_route); on a GPU im2col + torch._int_mm."""
    name = "fast"

    def conv(self, x, w, lut, stride=1, padding=0, prepared=None):
        return conv(x, w, lut, stride, padding, prepared=prepared)

    def accepts(self, lut, device):
        return decomposition_for(lut) is not None

    def prepare(self, w, lut):
        return prepare(w, decomposition_for(lut))

    def conv_float(self, x, act_amax, w, w_scale, lut, stride, padding, bias=None, prepared=None, tail=None):
        y = self._conv_float(x, act_amax, w, w_scale, lut, stride, padding, bias, prepared, tail)
        # the oneDNN route applies the tail in its epilogue's pass (a tuple back); the others leave it
        return y if tail is None or isinstance(y, tuple) else tail.apply(y)

    def _conv_float(self, x, act_amax, w, w_scale, lut, stride, padding, bias, prepared, tail):
        # the VNNI route fuses quantization and dequantization into the kernel's two passes (the same
        # values bit for bit: the fused-route test); the library route quantizes, runs conv() (whose own
        # route is _int_mm or float32, timed), dequantizes: the values of Engine.conv_float, with the
        # layer's scales made once and one look at x (a GPU waits for each look)
        if prepared is None:
            prepared = self.prepare(w, lut)
        if not isinstance(act_amax, torch.Tensor) or not isinstance(w_scale, torch.Tensor):
            return super().conv_float(x, act_amax, w, w_scale, lut, stride, padding, bias, prepared)
        scales = layer_scales(prepared, act_amax, w_scale, x)
        forced = os.environ.get("AXX_FAST_ROUTE")
        if not (x.device.type == "cpu" and x.dtype == torch.float32) or forced in ("int_mm", "float") \
                or not (vnni_available() or onednn_available() or avx2_available() and forced in (None, "avx2")):
            return self._library(x, scales, w, lut, stride, padding, bias, prepared)
        # per layer, whatever the batch (attacks such as Square query shrinking batches: each new size would
        # otherwise try the assumption again, and with it every route's timing)
        shape = (tuple(x.shape[1:]), prepared.shape)
        given, s = prepared, _pair(stride)
        # activations >= 0 (after a ReLU; x >= 0 quantizes to x >= 0) take the non-negative decomposition (one
        # plane fewer where a table needs the sign's), assumed until the planes pass finds a negative quantized
        # activation (it checks them for free; a look at the float ones first, amin, cost ~3 % of an evaluation,
        # and 5 % of a search's with the AVX2 kernel): that layer shape (a network's first) is then looked at
        optimistic = shape not in _SIGNED
        prepared = given.for_input(x, nonneg=True if optimistic else None)
        dec = prepared.dec
        kernel = None if not (dec.int8 or dec.exact) else conv_vnni if vnni_available() else \
            conv_avx2 if avx2_available() and (dec.nonneg or optimistic) else None

        def library():  # the decomposition for what x holds: the library routes do not check the planes
            return self._library(x, scales, w, lut, stride, padding, bias,
                                 given.for_input(x) if optimistic else prepared)

        def checked(fn):
            def run():
                try:
                    return fn()
                except NegativeActivations:
                    _SIGNED.add(shape)
                    return library()
            return run

        routes = {}
        if kernel is not None:
            routes["vnni" if kernel is conv_vnni else "avx2"] = checked(
                lambda: kernel(x, prepared, stride, padding, act_scale=scales[2], out_scale=scales[3], bias=bias))
        if (dec.int8 or dec.exact) and onednn_available() and prepared.onednn(s) is not None:
            routes["onednn"] = checked(lambda: conv_onednn(x, prepared, stride, padding, act_scale=scales[2],
                                                           scale=scales[1], bias=bias, tail=tail))
        if not routes:
            return library()
        routes["library"] = library
        key = ("float", tuple(x.shape), prepared.shape, s, _pair(padding), dec.planes, dec.nonneg, dec.int8,
               tuple(routes))
        return routes[cpu_route(key, routes)]()

    @staticmethod
    def _library(x, scales, w, lut, stride, padding, bias, prepared):
        """to_int8 with the layer's scale, conv(), dequantize: Engine.conv_float's values."""
        nonneg = checked_nonneg(x)
        xi = torch.clamp(torch.round(x * scales[0]), -128, 127).to(torch.int8)
        # x >= 0 quantizes to x >= 0: the planes of non-negative activations apply; x < 0 may round to 0, so
        # conv() (which picks the planes) looks at the bytes then, once
        acc = conv(xi, w, lut, stride, padding, prepared=prepared, nonneg=nonneg or None)
        return dequantize(acc, scales[1], bias, x.dtype)
