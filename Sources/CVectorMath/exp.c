// expf of many floats at once, bitwise equal to glibc's expf.
//
// glibc's expf (the algorithm of ARM's optimized-routines, 2017) computes in double:
//   z = x·32/ln2 = k + r with k an integer (rounded by adding 1.5·2^52) and |r| <= 1/2,
//   exp(x) = 2^(k/32) · 2^(r/32) ≈ s · (C0·r³ + C1·r² + C2·r + 1),
// s = 2^(k/32) from a 32-entry table of 2^(i/32) whose exponent field absorbs k/32. On CPUs with FMA and
// AVX2 glibc selects a build of it (__expf_fma) whose compiler fused five of those operations; the
// lanes below run exactly that sequence of IEEE operations (the order was read off the disassembly of
// glibc 2.36's __expf_fma), so they round exactly as it does. The test "the vectorised exp equals libm's
// expf on every non-positive float" compares all 2^31 of them with this machine's expf.
#include "CVectorMath.h"
#include "portable.h"

#include <math.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>

// Every multiply and add below is the one written: no contraction into fused multiply-adds behind our
// back (the FMA-enabled and portable functions would then round differently).
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>

// 2^(i/32) correctly rounded to double, minus i << 47 (so that adding k << 47 puts k/32 in the exponent).
// Computed from the definition (60-digit decimal arithmetic); equal to glibc's __exp2f_data table.
static const uint64_t exp2_table[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};

static const double inv_ln2_32 = 0x1.71547652b82fep+5;   // 32 / ln 2
static const double round_shift = 0x1.8p+52;              // adding it rounds to an integer, ties to even
// The cubic for 2^(r/32), r in [-1/2, 1/2] (coefficients of 2^x scaled by 1/32^3, 1/32^2, 1/32).
static const double c0 = 0x1.c6af84b912394p-20, c1 = 0x1.ebfce50fac4f3p-13, c2 = 0x1.62e42ff0c52d6p-6;

// Four lanes of the main path (|x| < 88, x finite).
__attribute__((target("avx2,fma")))
static inline __m128 exp_lanes(__m128 x) {
    const __m256d xd = _mm256_cvtps_pd(x);
    const __m256d scale = _mm256_set1_pd(inv_ln2_32), shift = _mm256_set1_pd(round_shift);
    const __m256d kd_shifted = _mm256_fmadd_pd(scale, xd, shift);       // fma(32/ln2, x, 1.5·2^52)
    const __m256d kd = _mm256_sub_pd(kd_shifted, shift);                // k
    const __m256d r = _mm256_fmsub_pd(scale, xd, kd);                   // fma(32/ln2, x, −k)
    const __m256i ki = _mm256_castpd_si256(kd_shifted);                 // k in the low bits
    const __m256i index = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
    const __m256i entry = _mm256_i64gather_epi64((const long long *)exp2_table, index, 8);
    const __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(entry, _mm256_slli_epi64(ki, 47)));
    const __m256d z = _mm256_fmadd_pd(r, _mm256_set1_pd(c0), _mm256_set1_pd(c1));   // fma(r, C0, C1)
    const __m256d r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(c2), _mm256_set1_pd(1.0));       // fma(r, C2, 1)
    y = _mm256_fmadd_pd(z, r2, y);                                                  // fma(z, r², y)
    y = _mm256_mul_pd(y, s);
    return _mm256_cvtpd_ps(y);
}

__attribute__((target("avx2,fma")))
static void exp_shifted_avx2(const float *in, float shift, float *out, ptrdiff_t count) {
    const __m256 by = _mm256_set1_ps(shift);
    // The main path needs |x| < 88 (top 12 bits of the magnitude below 0x42b), which also excludes inf and nan.
    const __m256i limit = _mm256_set1_epi32(0x42b00000);
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
    ptrdiff_t j = 0;
    for (; j + 8 <= count; j += 8) {
        const __m256 x = _mm256_sub_ps(_mm256_loadu_ps(in + j), by);
        const __m256i bits = _mm256_and_si256(_mm256_castps_si256(x), magnitude);
        if (!_mm256_testz_si256(_mm256_cmpgt_epi32(bits, _mm256_sub_epi32(limit, _mm256_set1_epi32(1))),
                                _mm256_set1_epi32(-1))) {
            float lanes[8];
            _mm256_storeu_ps(lanes, x);
            for (int i = 0; i < 8; i++) out[j + i] = expf(lanes[i]);
            continue;
        }
        const __m128 low = exp_lanes(_mm256_castps256_ps128(x));
        const __m128 high = exp_lanes(_mm256_extractf128_ps(x, 1));
        _mm256_storeu_ps(out + j, _mm256_set_m128(high, low));
    }
    if (j == count) return;
    // The last 1–7 entries as one masked vector (a causal softmax row ends in such a tail 7 times in 8):
    // lanes past the row read nothing and are set to +0, which is in range, computed and not stored. The
    // valid lanes are the same subtraction and the same lanes as above, so the same bits as expf.
    const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count - j)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 x = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(in + j, valid), by), _mm256_castsi256_ps(valid));
    const __m256i bits = _mm256_and_si256(_mm256_castps_si256(x), magnitude);
    if (!_mm256_testz_si256(_mm256_cmpgt_epi32(bits, _mm256_sub_epi32(limit, _mm256_set1_epi32(1))),
                            _mm256_set1_epi32(-1))) {
        for (; j < count; j++) out[j] = expf(in[j] - shift);
        return;
    }
    const __m128 low = exp_lanes(_mm256_castps256_ps128(x));
    const __m128 high = count - j > 4 ? exp_lanes(_mm256_extractf128_ps(x, 1)) : _mm_setzero_ps();
    _mm256_maskstore_ps(out + j, valid, _mm256_set_m128(high, low));
}

// The running maximum of the first count & ~7 floats in eight lanes, into *m; returns where it stopped.
__attribute__((target("avx2,fma")))
static int row_max_avx2(const float *z, int count, float *m) {
    const int vector_end = count & ~7;
    if (vector_end == 0) return 0;
    __m256 lanes = _mm256_set1_ps(-INFINITY);
    for (int j = 0; j < vector_end; j += 8) lanes = _mm256_max_ps(_mm256_loadu_ps(z + j), lanes);
    float l[8];
    _mm256_storeu_ps(l, lanes);
    for (int k = 0; k < 8; k++) if (l[k] > *m) *m = l[k];
    return vector_end;
}
#endif

static atomic_int force_portable = 0;

void olab_vector_math_force_portable(int portable) { atomic_store_explicit(&force_portable, portable != 0, memory_order_relaxed); }

// The condition under which glibc's ifunc picks __expf_fma (cpu features read once by the runtime at load).
int olab_exp_is_vectorised(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int olab_vector_lanes(void) {
    return olab_exp_is_vectorised() && !atomic_load_explicit(&force_portable, memory_order_relaxed);
}

void olab_exp_shifted(const float *in, float shift, float *out, ptrdiff_t count) {
#if defined(__x86_64__)
    if (olab_vector_lanes()) { exp_shifted_avx2(in, shift, out, count); return; }
#endif
    for (ptrdiff_t j = 0; j < count; j++) out[j] = expf(in[j] - shift);
}

// The largest of count floats, nan never winning (max_ps returns its second operand when either is
// nan, and the running maximum is never nan); −inf for an empty row. Only the ±0 of a zero maximum may
// differ from a sequential loop's, and z − (±0) gives the same exp either way.
static float row_max(const float *z, int count) {
    float m = -INFINITY;
    int j = 0;
#if defined(__x86_64__)
    if (olab_vector_lanes()) j = row_max_avx2(z, count, &m);
#endif
    for (; j < count; j++) if (z[j] > m) m = z[j];
    return m;
}

void olab_causal_softmax(float *s, ptrdiff_t lds, int i0, int i1, int width) {
    for (int i = i0; i < i1; i += 4) {
        const int group = (i1 - i < 4) ? i1 - i : 4;
        float *row[4];
        float sum[4] = {0, 0, 0, 0};
        for (int g = 0; g < group; g++) {
            row[g] = s + (ptrdiff_t)(i - i0 + g) * lds;
            olab_exp_shifted(row[g], row_max(row[g], i + g + 1), row[g], i + g + 1);
        }
        // Each row's sum is one float chain over j = 0 … i + g; the rows' chains side by side.
        int j = 0;
        if (group == 4)
            for (; j <= i; j++) {
                sum[0] += row[0][j]; sum[1] += row[1][j]; sum[2] += row[2][j]; sum[3] += row[3][j];
            }
        for (int g = 0; g < group; g++) {
            float *r = row[g];
            for (int k = j; k <= i + g; k++) sum[g] += r[k];
            const float inv = 1 / sum[g];
            for (int k = 0; k <= i + g; k++) r[k] = r[k] * inv;
            for (int k = i + g + 1; k < width; k++) r[k] = 0;
        }
    }
}
