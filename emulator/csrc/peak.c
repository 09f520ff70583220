/* The instruction-bound peaks the plane kernels are measured against (`axx bench`): byte multiply-adds per
 * second of the kernels' multiply instruction alone, on registers (no memory operand, 8 independent
 * accumulators so neither latency nor loads limit it), on nthreads threads at once. A kernel's rate over
 * this says how much any rewrite of its loops could still gain: the AVX2 kernel's level-255 convolutions of
 * the ResNet stage shapes ran at 72-89 G/s against 129 G/s here, on a 2-core Zen 3 EPYC.
 *   avx2: vpmaddubsw + vpaddw (32 byte products per instruction pair);
 *   vnni: vpdpbusd on zmm (64 byte products, accumulated in the same instruction).
 * Both return G multiply-adds per second, or -1 where the instructions are missing. */
#include <stdint.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AXX_PEAK_X86 1
#endif

static volatile int64_t peak_sink;

static double peak_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#ifdef AXX_PEAK_X86
__attribute__((target("avx2"))) static int64_t peak_avx2_loop(long iters)
{
    __m256i a0 = _mm256_set1_epi8(1), a1 = _mm256_set1_epi8(2), b0 = _mm256_set1_epi8(3), b1 = _mm256_set1_epi8(-4);
    __m256i s[8];
    for (int k = 0; k < 8; k++)
        s[k] = _mm256_setzero_si256();
    for (long i = 0; i < iters; i++) {
        __asm__("" : "+x"(a0), "+x"(a1), "+x"(b0), "+x"(b1));  /* operands "change": nothing is hoisted */
        s[0] = _mm256_add_epi16(s[0], _mm256_maddubs_epi16(a0, b0));
        s[1] = _mm256_add_epi16(s[1], _mm256_maddubs_epi16(a0, b1));
        s[2] = _mm256_add_epi16(s[2], _mm256_maddubs_epi16(a1, b0));
        s[3] = _mm256_add_epi16(s[3], _mm256_maddubs_epi16(a1, b1));
        s[4] = _mm256_add_epi16(s[4], _mm256_maddubs_epi16(b0, a0));
        s[5] = _mm256_add_epi16(s[5], _mm256_maddubs_epi16(b1, a0));
        s[6] = _mm256_add_epi16(s[6], _mm256_maddubs_epi16(b0, a1));
        s[7] = _mm256_add_epi16(s[7], _mm256_maddubs_epi16(b1, a1));
    }
    __m256i r = s[0];
    for (int k = 1; k < 8; k++)
        r = _mm256_add_epi16(r, s[k]);
    return _mm256_extract_epi16(r, 0);
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static int64_t peak_vnni_loop(long iters)
{
    __m512i a0 = _mm512_set1_epi8(1), a1 = _mm512_set1_epi8(2), b0 = _mm512_set1_epi8(3), b1 = _mm512_set1_epi8(-4);
    __m512i s[8];
    for (int k = 0; k < 8; k++)
        s[k] = _mm512_setzero_si512();
    for (long i = 0; i < iters; i++) {
        __asm__("" : "+v"(a0), "+v"(a1), "+v"(b0), "+v"(b1));
        s[0] = _mm512_dpbusd_epi32(s[0], a0, b0);
        s[1] = _mm512_dpbusd_epi32(s[1], a0, b1);
        s[2] = _mm512_dpbusd_epi32(s[2], a1, b0);
        s[3] = _mm512_dpbusd_epi32(s[3], a1, b1);
        s[4] = _mm512_dpbusd_epi32(s[4], b0, a0);
        s[5] = _mm512_dpbusd_epi32(s[5], b1, a0);
        s[6] = _mm512_dpbusd_epi32(s[6], b0, a1);
        s[7] = _mm512_dpbusd_epi32(s[7], b1, a1);
    }
    __m512i r = s[0];
    for (int k = 1; k < 8; k++)
        r = _mm512_add_epi32(r, s[k]);
    return _mm512_reduce_add_epi32(r);
}
#endif

/* kind: 0 = avx2, 1 = vnni. */
double planeconv_peak(int kind, long iters, int nthreads)
{
#ifdef AXX_PEAK_X86
    __builtin_cpu_init();
    const int ok = kind == 0 ? __builtin_cpu_supports("avx2")
                             : kind == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                   __builtin_cpu_supports("avx512vnni");
    if (!ok || iters <= 0)
        return -1.0;
    const double per_iter = kind == 0 ? 8.0 * 32.0 : 8.0 * 64.0;
    int64_t sink = 0;
    int threads = 0;
    const double t0 = peak_seconds();
#pragma omp parallel num_threads(nthreads > 0 ? nthreads : 1) reduction(+ : sink, threads)
    {
        sink += kind == 0 ? peak_avx2_loop(iters) : peak_vnni_loop(iters);
        threads += 1;
    }
    const double dt = peak_seconds() - t0;
    peak_sink = sink;
    return dt > 0 ? threads * (double)iters * per_iter / dt / 1e9 : -1.0;
#else
    (void)kind; (void)iters; (void)nthreads;
    return -1.0;
#endif
}
