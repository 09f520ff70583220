/* The implicit-GEMM plane convolution of planeconv.c for x86 CPUs with AVX2 but without AVX-512 VNNI
 * (engines/fast.py, route "avx2"). There the float route (one float32 convolution of 4-byte planes) was
 * the fastest, at 8 multiply-adds per FMA; here vpmaddubsw multiplies 32 byte pairs per instruction.
 *
 * vpmaddubsw (u8 x s8, adjacent products summed into SATURATING int16) is exact only while every pair
 * sum fits int16, which the planes allow:
 *   - the x plane holds x itself (planeconv_planes with XOFF = 0), which takes activations 0..127 only
 *     (every convolution after a ReLU): a pair is at most 2 * 127 * 128 = 32512 in magnitude; it is
 *     widened to int32 (vpmaddwd with ones) after every instruction;
 *   - the bit and x != 0 planes are 0 / 1 against weights in -128..127: a pair is within -256..254, so
 *     up to Q16 = 64 of them add up in int16 (|sum| <= 16384) before one widening.
 * Same packed rows as the VNNI kernel ([w | 127 - E_i | K - 128] per tap, zero-padded to KC % 4 == 0),
 * 8 output channels per group: bp int8 [O / 8][KH*KW][KC/4][8][4]. Then dot = true + 127 * nb - 128 * nz
 * per receptive field and out = dot + box(pix), pix as planeconv_planes computes it (no wconst: x has
 * no offset). Like the VNNI kernel, `work` needs A2_R*SW*KC readable bytes past its end.
 */

#include <stdint.h>
#include "planeconv_common.h"
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AXX_AVX2 1
#define AVX2_TARGET __attribute__((target("avx2")))
#endif

#define A2_R 4   /* output pixels per register tile: 4 int32 + 4 int16 accumulators + weights + ones */
#define Q16 64   /* bit-plane quads summed in int16 before widening: 64 * 256 < 2^15 */

int planeconv_avx2_supported(void)
{
#ifdef AXX_AVX2
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

#ifdef AXX_AVX2
/* A2_R pixels (pixel r at p0 + r * step) x 8 output channels; nqx quads of x plane per tap, then
 * the others (nq in all). */
AVX2_TARGET static void tile_avx2(const uint8_t *p0, long step, const long *tapoff, int ntaps, int nqx, int nq,
                                  const int8_t *b, __m256i *res)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[A2_R];
    for (int r = 0; r < A2_R; r++)
        acc[r] = _mm256_setzero_si256();
    for (int t = 0; t < ntaps; t++) {
        const uint8_t *p = p0 + tapoff[t];
        const int8_t *bt = b + (long)t * nq * 32;
        int q = 0;
        for (; q < nqx; q++) {
            const __m256i bv = _mm256_loadu_si256((const __m256i *)(bt + (long)q * 32));
            for (int r = 0; r < A2_R; r++) {
                int32_t a4;
                memcpy(&a4, p + r * step + 4 * q, 4);
                const __m256i pr = _mm256_maddubs_epi16(_mm256_set1_epi32(a4), bv);
                acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(pr, ones));
            }
        }
        while (q < nq) {
            const int end = nq - q > Q16 ? q + Q16 : nq;
            __m256i s16[A2_R];
            for (int r = 0; r < A2_R; r++)
                s16[r] = _mm256_setzero_si256();
            for (; q < end; q++) {
                __m256i bv = _mm256_loadu_si256((const __m256i *)(bt + (long)q * 32));
                __asm__("" : "+x"(bv));  /* in a register: folded into each vpmaddubsw it was loaded 4 times */
                for (int r = 0; r < A2_R; r++) {
                    int32_t a4;
                    memcpy(&a4, p + r * step + 4 * q, 4);
                    s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(_mm256_set1_epi32(a4), bv));
                }
            }
            for (int r = 0; r < A2_R; r++)
                acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(s16[r], ones));
        }
    }
    for (int r = 0; r < A2_R; r++)
        res[r] = acc[r];
}
#endif

/* out: int32 [N][OH][OW][O] (channels-last), or with outf the dequantized (float)acc * fscale (+ bias[o]),
 * of the planes in `work` (planeconv_planes with XOFF = 0; KC bytes per pixel, of which the first NQX
 * quads are the x plane: C = 4 * NQX) and the packed weights bp (above). */
#ifdef AXX_AVX2
AVX2_TARGET  /* callers check planeconv_avx2_supported() first (the library is built for any x86) */
#endif
int planeconv_avx2_gemm(const uint8_t *work, const int32_t *pix, const int8_t *bp, int32_t *out, float *outf,
                        float fscale, const float *bias, int N, int HP, int WP, int KC, int NQX, int O, int KH,
                        int KW, int SH, int SW, int OH, int OW, int nthreads)
{
#ifdef AXX_AVX2
    if (N <= 0 || O <= 0 || KC <= 0 || KC % 4 || NQX <= 0 || 4 * NQX > KC || KH <= 0 || KW <= 0 || SH <= 0 ||
        SW <= 0 || OH <= 0 || OW <= 0)
        return -1;
    if ((OH - 1) * SH + KH > HP || (OW - 1) * SW + KW > WP)
        return -2;
    const int ntaps = KH * KW, nq = KC / 4, ngroups = (O + 7) / 8;
    const int tiles = (OW + A2_R - 1) / A2_R;
    long tapoff[ntaps];
    planeconv_tap_offsets(tapoff, KH, KW, WP, KC);
    const long step = (long)SW * KC;
    const long bgroup = (long)ntaps * nq * 32;
#pragma omp parallel for collapse(3) schedule(static) num_threads(nthreads > 0 ? nthreads : 1)
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < OH; oy++) {
            for (int ti = 0; ti < tiles; ti++) {
                const int ox0 = ti * A2_R;
                const int nr = OW - ox0 < A2_R ? OW - ox0 : A2_R;
                const uint8_t *p0 = work + (((long)n * HP + (long)oy * SH) * WP + (long)ox0 * SW) * KC;
                int32_t box[A2_R];
                planeconv_box(pix, n, oy, ox0, nr, HP, WP, SH, SW, KH, KW, box);
                const long orow = (((long)n * OH + oy) * OW + ox0) * O;
                for (int g = 0; g < ngroups; g++) {
                    __m256i res[A2_R];
                    tile_avx2(p0, step, tapoff, ntaps, NQX, nq, bp + g * bgroup, res);
                    const int o0 = 8 * g, m = O - o0 < 8 ? O - o0 : 8;
                    for (int r = 0; r < nr; r++) {
                        int32_t v[8];
                        _mm256_storeu_si256((__m256i *)v, _mm256_add_epi32(res[r], _mm256_set1_epi32(box[r])));
                        if (!outf) {
                            memcpy(out + orow + (long)r * O + o0, v, (size_t)m * 4);
                        } else {
                            /* (float)acc * scale, then + bias: two roundings, as torch does (no FMA) */
                            float *f = outf + orow + (long)r * O + o0;
                            for (int j = 0; j < m; j++) {
                                const float y = (float)v[j] * fscale;
                                f[j] = bias ? y + bias[o0 + j] : y;
                            }
                        }
                    }
                }
            }
        }
    }
    return 0;
#else
    (void)work; (void)pix; (void)bp; (void)out; (void)outf; (void)fscale; (void)bias; (void)N; (void)HP; (void)WP;
    (void)KC; (void)NQX; (void)O; (void)KH; (void)KW; (void)SH; (void)SW; (void)OH; (void)OW; (void)nthreads;
    return -9;
#endif
}
