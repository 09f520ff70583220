/* LUT-gather convolution on the GPU: every multiply is a table look-up (same contract as lutconv.c).
 *
 * out[n][o][y][x] = sum_{c,ky,kx} lut[w[o][c][ky][kx]][xpad[n][c][y*SH+ky][x*SW+kx]]
 *
 * Grid: (ceil(N*OH*OW / THREADS), O). A block owns one output channel o and THREADS consecutive
 * output positions (across images, so small late-stage planes still fill a block). The table
 * rows lut[w] of the channel's taps are staged CHUNK at a time in shared memory (CHUNK * 1 KB):
 * each row is read from global memory once per block and gathered THREADS times from shared
 * memory. Accumulation in int32, as the hardware does.
 */
#include <stdint.h>
#include <cuda_runtime.h>

#define CHUNK 16

__global__ void lutconv_kernel(const uint8_t *__restrict__ xpad, const uint8_t *__restrict__ w,
                               const int32_t *__restrict__ lut, int32_t *__restrict__ out,
                               int N, int C, int HP, int WP, int O, int KH, int KW, int SH, int SW,
                               int OH, int OW)
{
    __shared__ int32_t rows[CHUNK * 256];
    const int o = blockIdx.y;
    const long plane = (long)OH * OW;
    const long m = (long)blockIdx.x * blockDim.x + threadIdx.x;  /* flattened (n, oy, ox) */
    const bool valid = m < (long)N * plane;
    const int n = valid ? (int)(m / plane) : 0;
    const int p = valid ? (int)(m % plane) : 0;
    const int oy = p / OW, ox = p % OW;
    const int khw = KH * KW;
    const int taps = C * khw;
    const uint8_t *wo = w + (long)o * taps;
    const uint8_t *xn = xpad + (long)n * C * HP * WP + (long)(oy * SH) * WP + ox * SW;
    int32_t acc = 0;
    for (int t0 = 0; t0 < taps; t0 += CHUNK) {
        const int nt = min(CHUNK, taps - t0);
        __syncthreads();
        for (int i = threadIdx.x; i < nt * 256; i += blockDim.x)
            rows[i] = lut[(int)wo[t0 + (i >> 8)] * 256 + (i & 255)];
        __syncthreads();
        if (valid) {
            for (int t = 0; t < nt; t++) {
                const int tap = t0 + t;
                const int c = tap / khw, r = tap - c * khw;
                const int ky = r / KW, kx = r - ky * KW;
                acc += rows[t * 256 + xn[((long)c * HP + ky) * WP + kx]];
            }
        }
    }
    if (valid)
        out[((long)n * O + o) * plane + p] = acc;
}

extern "C" int lutconv_cuda(const void *xpad, const void *w, const void *lut, void *out,
                            int N, int C, int HP, int WP, int O, int KH, int KW, int SH, int SW,
                            int OH, int OW, void *stream)
{
    if (N <= 0 || C <= 0 || O <= 0 || KH <= 0 || KW <= 0 || SH <= 0 || SW <= 0 || OH <= 0 || OW <= 0)
        return -1;
    if ((OH - 1) * SH + KH > HP || (OW - 1) * SW + KW > WP)
        return -2;
    const long total = (long)N * OH * OW;
    const int threads = total < 256 ? (int)((total + 31) / 32) * 32 : 256;
    const long blocks = (total + threads - 1) / threads;
    if (blocks > 2147483647L || O > 65535)
        return -3;
    dim3 grid((unsigned)blocks, (unsigned)O);
    lutconv_kernel<<<grid, threads, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)xpad, (const uint8_t *)w, (const int32_t *)lut, (int32_t *)out,
        N, C, HP, WP, O, KH, KW, SH, SW, OH, OW);
    return (int)cudaGetLastError();
}

extern "C" const char *lutconv_cuda_error(int code)
{
    if (code == -1) return "invalid sizes";
    if (code == -2) return "kernel larger than the padded input";
    if (code == -3) return "grid too large (more than 65535 output channels)";
    return cudaGetErrorString((cudaError_t)code);
}
