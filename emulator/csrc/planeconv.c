/* Implicit-GEMM int8 convolution over activation planes for the exact fast path (engines/fast.py),
 * with AVX-512 VNNI (vpdpbusd: u8 x s8 -> int32, 64 multiply-adds per instruction).
 *
 * Why not im2col + a library int8 GEMM: for these layers (few output channels, many pixels) the
 * GEMM streams a materialised A of 9 x (planes) x the activations from memory and runs at a
 * fraction of the multiply rate; here every output pixel reads its receptive field straight from
 * a zero-bordered, channels-last plane buffer that stays in cache.
 *
 * Per pixel the plane buffer holds KC bytes (unsigned): [x + 128 | b_0 .. b_{P-1} | x != 0 | 0..]
 * (C bytes each, b_i = bit i of x's byte; P < 0: the x plane only). The packed weights hold the
 * matching signed rows [w | 127 - E_i(w) | K(w) - 128 | 0]. Then
 *     dot = true + 128 * sum(w) + sum over the receptive field of (127 * sum_i b_i - 128 * [x != 0])
 * so out = dot + wconst[o] + box(pix), wconst[o] = -128 * sum w[o], pix = per input pixel
 * sum_c (128 [x != 0] - 127 sum_i b_i) (zero on the border, where x + 128 = 128 stands for x = 0).
 * The AVX2 kernel (planeconv_avx2.c) reads the same planes with the x plane unshifted (XOFF = 0: x
 * itself, for activations >= 0 only), so its dot has no 128 * sum(w) and wconst = 0.
 * vpdpbusd wraps (no saturation), so the int32 result is exact modulo 2^32, hence exact whenever the
 * true accumulator fits int32: the same contract as every engine.
 */
#include <stdint.h>
#include "planeconv_common.h"
#include <string.h>
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AXX_X86 1
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#endif

#define PC_R 8  /* output pixels per register tile (divides the ResNets' 32/16/8-wide rows) */

int planeconv_supported(void)
{
#ifdef AXX_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

/* quant.to_int8 of one activation: clamp(rint(xf * scale), -128, 127) as its byte pattern. One
 * definition for the row loop (which the compiler vectorises with it inlined) and the strided one. */
static inline uint8_t quant_byte(float xv, float scale)
{
    const float r = rintf(xv * scale);
    return (uint8_t)(int8_t)(int)(r < -128.f ? -128.f : (r > 127.f ? 127.f : r));
}

/* Planes of an int8 activation tensor with arbitrary strides (NCHW or channels-last), into
 * work: uint8 [N][H + 2PH][W + 2PW][KC] and, when P >= 0, pix: int32 [N][H + 2PH][W + 2PW].
 * The x plane holds x + XOFF: XOFF = 128 for the VNNI kernel and oneDNN's route; 0 for the AVX2 one.
 * With NONNEG set, a negative quantized activation returns -5: the AVX2 kernel takes activations >= 0 only
 * (its 16-bit pair sums could saturate), and a decomposition without the sign's plane (P = 7 where the
 * table needs 8) is right for them only; the check is free here, a look at the float activations first
 * (amin) cost ~3 % of an evaluation.
 * When xf is not NULL the activations are float32 and are quantized here first, exactly as
 * quant.to_int8 does: q = clamp(rint(xf * scale), -128, 127) (rint rounds half to even, as
 * torch.round); returns -3 when an activation is NaN or inf. */
int planeconv_planes(const int8_t *x, const float *xf, float scale, long sn, long sc, long sh, long sw,
                     uint8_t *work, int32_t *pix, int N, int C, int H, int W, int PH, int PW, int P, int KC,
                     int XOFF, int NONNEG, int nthreads)
{
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || PH < 0 || PW < 0 || P < -1 || P > 8 || (XOFF != 0 && XOFF != 128))
        return -1;
    const int NP = P < 0 ? 1 : P + 2;
    if (KC < NP * C)
        return -2;
    const int HP = H + 2 * PH, WP = W + 2 * PW;
    const unsigned pmask = P > 0 ? (1u << P) - 1u : 0u;
    int bad = 0;
    const uint64_t xo = (uint64_t)XOFF * 0x0101010101010101ull;
#pragma omp parallel num_threads(nthreads > 0 ? nthreads : 1) reduction(|:bad)
    {
        uint8_t *v = (uint8_t *)malloc((size_t)W * C);  /* one row's byte patterns, pixel by pixel */
        if (!v) {
            bad |= 2;
        } else {
#pragma omp for collapse(2) schedule(static)
        for (int n = 0; n < N; n++) {
            for (int y = 0; y < HP; y++) {
                const int iy = y - PH;
                if (iy >= 0 && iy < H) {
                    const long rbase = n * sn + iy * sh;
                    if (xf && sc == 1 && sw == C) {
                        /* channels-last: the row is W * C contiguous floats, one loop the compiler
                         * vectorises (per pixel, 16 channels stayed scalar: 3x slower planes) */
                        const float *xs = xf + rbase;
                        int nf = 0;
                        for (long k = 0; k < (long)W * C; k++) {
                            const float xv = xs[k];
                            nf |= !isfinite(xv);  /* as to_int8: a finite x whose product overflows clamps */
                            v[k] = quant_byte(xv, scale);
                        }
                        bad |= nf;
                    } else {
                        for (int ix = 0; ix < W; ix++) {
                            const long base = rbase + ix * sw;
                            uint8_t *vp = v + (long)ix * C;
                            if (xf) {
                                for (int c = 0; c < C; c++) {
                                    const float xv = xf[base + c * sc];
                                    bad |= !isfinite(xv);
                                    vp[c] = quant_byte(xv, scale);
                                }
                            } else if (sc == 1) {
                                memcpy(vp, x + base, (size_t)C);
                            } else {
                                for (int c = 0; c < C; c++)
                                    vp[c] = (uint8_t)x[base + c * sc];
                            }
                        }
                    }
                }
                for (int xx = 0; xx < WP; xx++) {
                    uint8_t *t = work + (((long)n * HP + y) * WP + xx) * KC;
                    int32_t *pp = pix ? pix + ((long)n * HP + y) * WP + xx : NULL;
                    const int ix = xx - PW;
                    if (iy < 0 || iy >= H || ix < 0 || ix >= W) {  /* zero padding: x = 0 */
                        memset(t, XOFF, (size_t)C);
                        memset(t + C, 0, (size_t)(KC - C));
                        if (pp)
                            *pp = 0;
                        continue;
                    }
                    const uint8_t *vp = v + (long)ix * C;
                    int nz = 0, nb = 0, c = 0;
#ifdef __SSE2__
                    /* 16 channels per SSE register (x86-64's baseline): one shift, mask and store per plane,
                     * the counts by sums of absolute differences; 2x the SWAR loop below on 16-channel layers */
                    if (C >= 16) {
                        const __m128i one = _mm_set1_epi8(1), zero = _mm_setzero_si128();
                        const __m128i xov = _mm_set1_epi8((char)XOFF);
                        __m128i snz = zero, snb = zero, neg = zero;
                        for (; c + 16 <= C; c += 16) {
                            const __m128i xv = _mm_loadu_si128((const __m128i *)(vp + c));
                            neg = _mm_or_si128(neg, xv);
                            _mm_storeu_si128((__m128i *)(t + c), _mm_xor_si128(xv, xov));
                            if (NP == 1)
                                continue;
                            __m128i acc = zero;
                            for (int i = 0; i < P; i++) {
                                const __m128i r = _mm_and_si128(_mm_srl_epi16(xv, _mm_cvtsi32_si128(i)), one);
                                acc = _mm_add_epi8(acc, r);
                                _mm_storeu_si128((__m128i *)(t + (long)(1 + i) * C + c), r);
                            }
                            const __m128i z = _mm_min_epu8(xv, one);  /* byte k: x_k != 0 */
                            _mm_storeu_si128((__m128i *)(t + (long)(P + 1) * C + c), z);
                            snz = _mm_add_epi64(snz, _mm_sad_epu8(z, zero));
                            snb = _mm_add_epi64(snb, _mm_sad_epu8(acc, zero));
                        }
                        if (NONNEG && _mm_movemask_epi8(neg))
                            bad |= 4;
                        nz = (int)(_mm_cvtsi128_si64(snz) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(snz, snz)));
                        nb = (int)(_mm_cvtsi128_si64(snb) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(snb, snb)));
                    }
#endif
                    /* SWAR, 8 channels per 64-bit word, for what is left */
                    const uint64_t ones = 0x0101010101010101ull;
                    const uint64_t pm = (uint64_t)pmask * ones;
                    for (; c + 8 <= C; c += 8) {
                        uint64_t wv, o;
                        memcpy(&wv, vp + c, 8);
                        if (NONNEG && (wv & (0x80ull * ones)))
                            bad |= 4;
                        o = wv ^ xo;
                        memcpy(t + c, &o, 8);
                        if (NP == 1)
                            continue;
                        for (int i = 0; i < P; i++) {
                            o = (wv >> i) & ones;
                            memcpy(t + (long)(1 + i) * C + c, &o, 8);
                        }
                        o = wv | (wv >> 4);
                        o |= o >> 2;
                        o |= o >> 1;
                        o &= ones;                       /* byte k: x_k != 0 */
                        memcpy(t + (long)(P + 1) * C + c, &o, 8);
                        nz += __builtin_popcountll(o);
                        nb += __builtin_popcountll(wv & pm);
                    }
                    for (; c < C; c++) {
                        if (NONNEG && (vp[c] & 0x80))
                            bad |= 4;
                        t[c] = vp[c] ^ (uint8_t)XOFF;
                        if (NP == 1)
                            continue;
                        for (int i = 0; i < P; i++)
                            t[(long)(1 + i) * C + c] = (vp[c] >> i) & 1;
                        t[(long)(P + 1) * C + c] = vp[c] != 0;
                        nz += vp[c] != 0;
                        nb += __builtin_popcount(vp[c] & pmask);
                    }
                    if (pp && NP > 1)
                        *pp = 128 * nz - 127 * nb;
                    if (KC > NP * C)
                        memset(t + (long)NP * C, 0, (size_t)(KC - NP * C));
                }
            }
        }
            free(v);
        }
    }
    if (bad & 2)
        return -4;
    if (bad & 1)
        return -3;
    return bad ? -5 : 0;
}

/* One span of whole pixels, len floats, A and B the channels' alpha and beta repeated over it: plain loops over
 * restrict pointers, so each vectorises (per pixel, 16 channels made the loop overheads cost as much as the work). */
#define POST_BN(z, j) (fused ? fmaf((z), A[j], B[j]) : (z) * A[j] + B[j])
#define POST_ACT(v) (relu && (v) < 0.f ? 0.f : (v))
static void post_inplace(float *restrict y, const float *restrict r, const float *restrict A,
                         const float *restrict B, int fused, int relu, long len)
{
    if (r)
        for (long j = 0; j < len; j++) {
            const float v = POST_BN(y[j] + r[j], j);
            y[j] = POST_ACT(v);
        }
    else
        for (long j = 0; j < len; j++) {
            const float v = POST_BN(y[j], j);
            y[j] = POST_ACT(v);
        }
}

static void post_apart(float *restrict y, const float *restrict r, const float *restrict A,
                       const float *restrict B, int fused, int relu, float *restrict u, long len)
{
    if (r)
        for (long j = 0; j < len; j++)
            y[j] = y[j] + r[j];
    if (u)
        for (long j = 0; j < len; j++) {
            const float v = POST_BN(y[j], j);
            u[j] = POST_ACT(v);
        }
}

#define POST_SPAN 256  /* floats per span, at least one pixel's */

/* alpha and beta repeated over a span of n floats (n a multiple of O), in one allocation. */
static float *post_terms(const float *alpha, const float *beta, long n, int O)
{
    float *ab = malloc(2 * (size_t)n * sizeof(float));
    if (ab)
        for (long j = 0; j < n; j++) {
            ab[j] = alpha[j % O];
            ab[n + j] = beta[j % O];
        }
    return ab;
}

/* The tail of the floats [off, off + len) of y: in place (u == y), apart, or the residual add only (no u). */
static inline void post_span(float *y, const float *res, const float *ab, long n, int fused, int relu, float *u,
                             long off, long len)
{
    const float *r = res ? res + off : 0;
    if (u == y)
        post_inplace(y + off, r, ab, ab + n, fused, relu, len);
    else if (u || r)
        post_apart(y + off, r, ab, ab ? ab + n : 0, fused, relu, u ? u + off : 0, len);
}

/* The pass both functions below make, span by span (k pixels, in L1 for the tail): dequantize (when asked), then
 * the tail. */
static int output_pass(int dequant, float *out, const int32_t *box, float fscale, const float *bias,
                       const float *res, const float *alpha, const float *beta, int fused, int relu, float *u,
                       long P, int O, int nthreads)
{
    if (P < 0 || O <= 0 || (u && (!alpha || !beta)))
        return -1;
    const int k = O >= POST_SPAN ? 1 : POST_SPAN / O;
    const long n = (long)k * O;
    float *ab = u ? post_terms(alpha, beta, n, O) : 0;
    if (u && !ab)
        return -2;
    const long spans = (P + k - 1) / k;
#pragma omp parallel for num_threads(nthreads > 0 ? nthreads : 1) schedule(static)
    for (long s = 0; s < spans; s++) {
        const long p0 = s * k, p1 = s + 1 < spans ? p0 + k : P;
        for (long p = p0; dequant && p < p1; p++) {
            float *o = out + p * O;
            const float b = box ? (float)box[p] : 0.f;
            if (bias) {
                for (int c = 0; c < O; c++)
                    o[c] = (o[c] + b) * fscale + bias[c];
            } else {
                for (int c = 0; c < O; c++)
                    o[c] = (o[c] + b) * fscale;
            }
        }
        post_span(out, res, ab, n, fused, relu, u, p0 * O, (p1 - p0) * O);
    }
    free(ab);
    return 0;
}

/* The epilogue of oneDNN's route (engines/fast.py, conv_onednn), one pass over its channels-last float32 output
 * [P pixels][O]: out = (out + box[p]) * fscale (+ bias[o]), each operation rounded as torch's add_, mul_ and add_
 * round it (built with -ffp-contract=off: no fused multiply-add). out + box is an integer below 2^24: exact. Three
 * torch passes over the output cost ~3x this one. res, alpha, u: an eval tail (planeconv_post's arguments) applied
 * in the same pass. */
int planeconv_epilogue(float *out, const int32_t *box, float fscale, const float *bias, const float *res,
                       const float *alpha, const float *beta, int fused, int relu, float *u, long P, int O,
                       int nthreads)
{
    return output_pass(1, out, box, fscale, bias, res, alpha, beta, fused, relu, u, P, O, nthreads);
}

/* The eval-time tail of a pre-activation ResNet layer (emulator/engines/tail.py), one pass over a convolution's
 * channels-last float32 output y [P pixels][O] instead of torch's passes for each: z = y (+ res: the residual add),
 * then u = z * alpha[o] + beta[o] (eval batch norm as torch computes it: one rounding with fma, as its vectorised
 * kernel does, else two; the caller checks which against torch), then ReLU as torch's (-0 and NaN kept). z goes
 * back to y; u to u, which may be y (z then not kept); no u: the residual add only. */
int planeconv_post(float *y, const float *res, const float *alpha, const float *beta, int fused, int relu,
                   float *u, long P, int O, int nthreads)
{
    return output_pass(0, y, 0, 1.f, 0, res, alpha, beta, fused, relu, u, P, O, nthreads);
}

#ifdef AXX_X86
/* One register tile: PC_R pixels of one output row x 16*OBN output channels. p0 points at the
 * tile's first pixel (tap 0,0) in the plane buffer; pixel r is at p0 + r * step. */
#define DEF_TILE(OBN)                                                                                  \
VNNI_TARGET static void tile_##OBN(const uint8_t *p0, long step, const long *tapoff, int ntaps, int nq, \
                                   const int8_t *bp, __m512i *res)                                     \
{                                                                                                      \
    __m512i acc[PC_R][OBN];                                                                            \
    for (int r = 0; r < PC_R; r++)                                                                     \
        for (int j = 0; j < OBN; j++)                                                                  \
            acc[r][j] = _mm512_setzero_si512();                                                        \
    for (int t = 0; t < ntaps; t++) {                                                                  \
        const uint8_t *p = p0 + tapoff[t];                                                             \
        const int8_t *b = bp + (long)t * nq * 64 * OBN;                                                \
        for (int q = 0; q < nq; q++) {                                                                 \
            __m512i bv[OBN];                                                                           \
            for (int j = 0; j < OBN; j++)                                                              \
                bv[j] = _mm512_loadu_si512((const void *)(b + ((long)q * OBN + j) * 64));              \
            _Pragma("GCC unroll 8")                                                                    \
            for (int r = 0; r < PC_R; r++) {                                                           \
                int32_t a4;                                                                            \
                memcpy(&a4, p + r * step + 4 * q, 4);                                                  \
                const __m512i a = _mm512_set1_epi32(a4);                                               \
                for (int j = 0; j < OBN; j++)                                                          \
                    acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], a, bv[j]);                              \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
    for (int r = 0; r < PC_R; r++)                                                                     \
        for (int j = 0; j < OBN; j++)                                                                  \
            res[r * OBN + j] = acc[r][j];                                                              \
}
DEF_TILE(1)
DEF_TILE(2)
DEF_TILE(4)
#endif

#ifdef AXX_X86
/* One output tile: PC_R pixels (nr of them real) of row oy, every output channel; epilogue adds
 * wconst and the boxed per-pixel correction. */
VNNI_TARGET static void do_tile(const uint8_t *p0, long step, const long *tapoff, int ntaps, int nq,
                                const int8_t *bp, long bgroup, const int32_t *wconst, const int32_t *box,
                                int32_t *orow, float *frow, float fscale, const float *bias, int nr, int O, int OBN)
{
    const int OG = 16 * OBN, ngroups = (O + OG - 1) / OG;
    for (int g = 0; g < ngroups; g++) {
        __m512i res[PC_R * 4];
        const int8_t *bg = bp + g * bgroup;
        if (OBN == 1)
            tile_1(p0, step, tapoff, ntaps, nq, bg, res);
        else if (OBN == 2)
            tile_2(p0, step, tapoff, ntaps, nq, bg, res);
        else
            tile_4(p0, step, tapoff, ntaps, nq, bg, res);
        for (int j = 0; j < OBN; j++) {
            const int o0 = g * OG + j * 16;
            if (o0 >= O)
                break;
            const int m = O - o0 < 16 ? O - o0 : 16;
            const __mmask16 mask = (__mmask16)((1u << m) - 1u);
            const __m512i wc = _mm512_maskz_loadu_epi32(mask, (const void *)(wconst + o0));
            const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + o0) : _mm512_setzero_ps();
            const __m512 sv = _mm512_set1_ps(fscale);
            for (int r = 0; r < nr; r++) {
                const __m512i v = _mm512_add_epi32(_mm512_add_epi32(res[r * OBN + j], wc), _mm512_set1_epi32(box[r]));
                if (!frow) {
                    _mm512_mask_storeu_epi32((void *)(orow + (long)r * O + o0), mask, v);
                } else {
                    /* (float)acc * scale, then + bias: two roundings, as torch does (no FMA) */
                    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), sv);
                    if (bias)
                        f = _mm512_add_ps(f, bv);
                    _mm512_mask_storeu_ps(frow + (long)r * O + o0, mask, f);
                }
            }
        }
    }
}
#endif

/* out: int32 [N][OH][OW][O] (channels-last) = the LUT convolution of the planes in `work`
 * (planeconv_planes, KC bytes per pixel, KC % 4 == 0) with the packed weights
 * bp: int8 [O / (16 OBN)][KH*KW][KC/4][OBN][16][4] (O padded to a multiple of 16 OBN with zero rows),
 * wconst: int32 [O] and pix (NULL when the planes are x only). `work` must have PC_R*SW*KC
 * readable bytes past its end (tail tiles compute, then drop, pixels past the row).
 * With outf not NULL the result is dequantized instead: outf = (float)acc * fscale (+ bias[o]). */
int planeconv_gemm(const uint8_t *work, const int32_t *pix, const int8_t *bp, const int32_t *wconst,
                   int32_t *out, float *outf, float fscale, const float *bias, int N, int HP, int WP, int KC, int O, int OBN, int KH, int KW, int SH, int SW,
                   int OH, int OW, int nthreads)
{
#ifdef AXX_X86
    if (N <= 0 || O <= 0 || KC <= 0 || KC % 4 || KH <= 0 || KW <= 0 || SH <= 0 || SW <= 0 || OH <= 0 || OW <= 0)
        return -1;
    if (OBN != 1 && OBN != 2 && OBN != 4)
        return -1;
    if ((OH - 1) * SH + KH > HP || (OW - 1) * SW + KW > WP)
        return -2;
    const int ntaps = KH * KW, nq = KC / 4;
    const int tiles = (OW + PC_R - 1) / PC_R;
    long tapoff[ntaps];
    planeconv_tap_offsets(tapoff, KH, KW, WP, KC);
    const long step = (long)SW * KC;
    const long bgroup = (long)ntaps * nq * 64 * OBN;
#pragma omp parallel for collapse(3) schedule(static) num_threads(nthreads > 0 ? nthreads : 1)
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < OH; oy++) {
            for (int ti = 0; ti < tiles; ti++) {
                const int ox0 = ti * PC_R;
                const int nr = OW - ox0 < PC_R ? OW - ox0 : PC_R;
                const uint8_t *p0 = work + (((long)n * HP + (long)oy * SH) * WP + (long)ox0 * SW) * KC;
                int32_t box[PC_R];
                planeconv_box(pix, n, oy, ox0, nr, HP, WP, SH, SW, KH, KW, box);
                const long orow = (((long)n * OH + oy) * OW + ox0) * O;
                do_tile(p0, step, tapoff, ntaps, nq, bp, bgroup, wconst, box, out ? out + orow : NULL,
                        outf ? outf + orow : NULL, fscale, bias, nr, O, OBN);
            }
        }
    }
    return 0;
#else
    (void)work; (void)pix; (void)bp; (void)wconst; (void)out; (void)outf; (void)fscale; (void)bias; (void)N; (void)HP; (void)WP; (void)KC; (void)O;
    (void)OBN; (void)KH; (void)KW; (void)SH; (void)SW; (void)OH; (void)OW; (void)nthreads;
    return -9;
#endif
}

/* The float route's planes (engines/fast.py, _float_planes): for every activation byte, row `byte` of
 * `table` (float32 [256][G]: [x | b_0 .. b_{B-1} | x != 0], or the folded [b_0 .. | x != 0]) written as
 * out float32 [N][H][W][G][C], i.e. the channels-last tensor [N, G*C, H, W]. One pass (torch needed a
 * permute, shifts, masks and a conversion: ~30 % of a ResNet's evaluation at high levels). x may have
 * any strides (NCHW or channels-last). */
int float_planes(const int8_t *x, long sn, long sc, long sh, long sw, const float *table, int G, float *out,
                 int N, int C, int H, int W, int nthreads)
{
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || G <= 0)
        return -1;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nthreads > 0 ? nthreads : 1)
    for (int n = 0; n < N; n++) {
        for (int y = 0; y < H; y++) {
            for (int xx = 0; xx < W; xx++) {
                float *o = out + (((long)n * H + y) * W + xx) * (long)G * C;
                const int8_t *p = x + n * sn + y * sh + xx * sw;
                for (int c = 0; c < C; c++) {
                    const float *t = table + (long)(uint8_t)p[c * sc] * G;
                    for (int g = 0; g < G; g++)
                        o[(long)g * C + c] = t[g];
                }
            }
        }
    }
    return 0;
}
