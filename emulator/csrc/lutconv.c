/* LUT-gather convolution on the CPU: every multiply is a table look-up.
 *
 * out[n][o][y][x] = sum_{c,ky,kx} lut[w[o][c][ky][kx]][xpad[n][c][y*SH+ky][x*SW+kx]]
 *
 * xpad: uint8 two's-complement patterns of the int8 activations, already zero-padded, [N][C][HP][WP]
 * w:    uint8 patterns of the int8 weights [O][C][KH][KW]
 * lut:  int32 [256][256], indexed [weight pattern][activation pattern] (one level)
 * out:  int32 [N][O][OH][OW]
 *
 * Loop order: one (image, output channel) plane per OpenMP task; for each weight tap the
 * 1 KB table row lut[w] stays in L1 while it is gathered over the whole output plane, so the
 * inner loop is a contiguous sweep (a gather from a tiny table, then an add).
 */
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int lutconv(const uint8_t *xpad, const uint8_t *w, const int32_t *lut, int32_t *out,
            int N, int C, int HP, int WP, int O, int KH, int KW, int SH, int SW,
            int OH, int OW, int nthreads)
{
    if (N <= 0 || C <= 0 || O <= 0 || KH <= 0 || KW <= 0 || SH <= 0 || SW <= 0 || OH <= 0 || OW <= 0)
        return -1;
    if ((OH - 1) * SH + KH > HP || (OW - 1) * SW + KW > WP)
        return -2;
    const long plane = (long)OH * OW;
#pragma omp parallel for collapse(2) schedule(static) num_threads(nthreads > 0 ? nthreads : 1)
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < O; o++) {
            int32_t *acc = out + ((long)n * O + o) * plane;
            memset(acc, 0, sizeof(int32_t) * plane);
            for (int c = 0; c < C; c++) {
                const uint8_t *xc = xpad + ((long)n * C + c) * HP * WP;
                const uint8_t *wk = w + (((long)o * C + c) * KH) * KW;
                for (int ky = 0; ky < KH; ky++) {
                    for (int kx = 0; kx < KW; kx++) {
                        const int32_t *row = lut + (long)wk[ky * KW + kx] * 256;
                        for (int oy = 0; oy < OH; oy++) {
                            const uint8_t *xr = xc + (long)(oy * SH + ky) * WP + kx;
                            int32_t *ar = acc + (long)oy * OW;
                            if (SW == 1) {
                                for (int ox = 0; ox < OW; ox++)
                                    ar[ox] += row[xr[ox]];
                            } else {
                                for (int ox = 0; ox < OW; ox++)
                                    ar[ox] += row[xr[(long)ox * SW]];
                            }
                        }
                    }
                }
            }
        }
    }
    return 0;
}

/* Plane extraction + im2col for the exact fast path (engines/fast.py), in two passes:
 *   1. planes: per pixel, NP = P + 2 planes per channel, channels-last, computed once:
 *      plane 0 = x, plane 1+i = -(bit i of x's byte) (i < P), plane P+1 = (x != 0);
 *      P < 0 means x only (an exact table), NP = 1.
 *      and, when corr is not NULL, corr[n][y][x] = sum_c ((x != 0) - sum_{i<P} bit_i): the
 *      per-pixel part of the -128 offset correction (fast.py boxes it over the receptive field).
 *   2. im2col: each tap of each output pixel is one memcpy of NP*C bytes (zeros outside).
 * x: int8 NCHW [N][C][H][W]; work: int8 [N][H][W][NP][C]; a: int8 [N*OH*OW][KH][KW][NP][C];
 * corr: int32 [N][H][W] or NULL.
 */
int im2col_planes(const int8_t *x, int8_t *work, int8_t *a, int32_t *corr, int N, int C, int H, int W,
                  int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW, int P, int nthreads)
{
    if (N <= 0 || C <= 0 || KH <= 0 || KW <= 0 || SH <= 0 || SW <= 0 || OH <= 0 || OW <= 0 || P < -1)
        return -1;
    const int NP = P < 0 ? 1 : P + 2;
    const long pix = (long)NP * C;
    const long hw = (long)H * W;
    const int nt = nthreads > 0 ? nthreads : 1;
#pragma omp parallel num_threads(nt)
    {
#pragma omp for collapse(2) schedule(static)
        for (int n = 0; n < N; n++) {
            for (int y = 0; y < H; y++) {
                for (int xx = 0; xx < W; xx++) {
                    int8_t *t = work + (((long)n * H + y) * W + xx) * pix;
                    const int8_t *src = x + (long)n * C * hw + (long)y * W + xx;
                    for (int c = 0; c < C; c++)
                        t[c] = src[c * hw];
                    if (NP == 1)
                        continue;
                    int s = 0;
                    for (int i = 0; i < P; i++) {
                        int8_t *q = t + (long)(1 + i) * C;
                        for (int c = 0; c < C; c++) {
                            q[c] = (int8_t)(-(((uint8_t)t[c] >> i) & 1));
                            s += q[c];
                        }
                    }
                    int8_t *z = t + (long)(P + 1) * C;
                    for (int c = 0; c < C; c++) {
                        z[c] = t[c] != 0;
                        s += z[c];
                    }
                    if (corr)
                        corr[((long)n * H + y) * W + xx] = s;
                }
            }
        }
        const long row = (long)KH * KW * pix;
#pragma omp for collapse(2) schedule(static)
        for (int n = 0; n < N; n++) {
            for (int oy = 0; oy < OH; oy++) {
                for (int ox = 0; ox < OW; ox++) {
                    int8_t *r = a + (((long)n * OH + oy) * OW + ox) * row;
                    for (int ky = 0; ky < KH; ky++) {
                        const int iy = oy * SH + ky - PH;
                        for (int kx = 0; kx < KW; kx++) {
                            const int ix = ox * SW + kx - PW;
                            int8_t *t = r + ((long)ky * KW + kx) * pix;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                memset(t, 0, (size_t)pix);
                            else
                                memcpy(t, work + (((long)n * H + iy) * W + ix) * pix, (size_t)pix);
                        }
                    }
                }
            }
        }
    }
    return 0;
}
