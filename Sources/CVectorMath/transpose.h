// An 8 × 8 transpose in AVX2 registers, shared by the causal products and LayerNorm's row sums
// (internal to the target).
#ifndef OLAB_CVECTORMATH_TRANSPOSE_H
#define OLAB_CVECTORMATH_TRANSPOSE_H

#if defined(__x86_64__)
#include <immintrin.h>

// r[k] holds entries 0 … 7 of row k on entry; on return r[k] holds entry k of rows 0 … 7.
__attribute__((target("avx2,fma")))
static inline void olab_transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        u[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
        u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
        u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
    }
    // The low half of u[k] (k < 4) holds entry k of rows 0–3, its high half entry k + 4 of rows 0–3;
    // u[k + 4] the same for rows 4–7.
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
    }
}
#endif

#endif
