/* What the two plane kernels (planeconv.c: AVX-512 VNNI, planeconv_avx2.c: AVX2) share: where each tap
 * of a receptive field lies in the plane buffer, and the boxed per-pixel correction of an output tile. */
#ifndef AXX_PLANECONV_COMMON_H
#define AXX_PLANECONV_COMMON_H
#include <stdint.h>

/* tapoff[ky * KW + kx]: byte offset of tap (ky, kx) from the receptive field's first pixel. */
static inline void planeconv_tap_offsets(long *tapoff, int KH, int KW, int WP, int KC)
{
    for (int ky = 0; ky < KH; ky++)
        for (int kx = 0; kx < KW; kx++)
            tapoff[ky * KW + kx] = ((long)ky * WP + kx) * KC;
}

/* box[r]: the sum of pix over the receptive field of output pixel (oy, ox0 + r), r < nr (0 without pix). */
static inline void planeconv_box(const int32_t *pix, int n, int oy, int ox0, int nr, int HP, int WP, int SH, int SW,
                                 int KH, int KW, int32_t *box)
{
    for (int r = 0; r < nr; r++) {
        int s = 0;
        if (pix) {
            const int32_t *pp = pix + ((long)n * HP + (long)oy * SH) * WP + (long)(ox0 + r) * SW;
            for (int ky = 0; ky < KH; ky++)
                for (int kx = 0; kx < KW; kx++)
                    s += pp[(long)ky * WP + kx];
        }
        box[r] = s;
    }
}
#endif
