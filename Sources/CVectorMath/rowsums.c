// LayerNorm's per-row sums (see CVectorMath.h): each row's sum is one float chain in index order, so
// eight rows run side by side in the lanes of one vector, fed by 8 × 8 transposes of contiguous loads
// instead of strided scalar loads; the portable loop sums each row on its own, with the same bits.
#include "CVectorMath.h"
#include "portable.h"
#include "transpose.h"

#include <stdint.h>

// Every multiply and add below is the one written: no contraction into fused multiply-adds (the lanes
// and the portable loop would then round differently, and both must equal LayerNorm's Swift loops).
#pragma STDC FP_CONTRACT OFF

static void row_sums_portable(const float *x, ptrdiff_t ldx, const float *y, ptrdiff_t ldy, int rows, int count,
                              const float *w, const float *centre, const float *scale, int kind,
                              float *first, float *second) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float a = 0, b = 0;
        for (int i = 0; i < count; i++) {
            if (kind == 0) {
                a += xr[i];
            } else if (kind == 1) {
                const float d = xr[i] - centre[r];
                a += d * d;
            } else {
                const float dnorm = w[i] * y[r * ldy + i];
                a += dnorm;
                b += dnorm * (xr[i] - centre[r]) * scale[r];
            }
        }
        first[r] = a;
        if (kind == 2) second[r] = b;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static inline void load_rows(const float *x, ptrdiff_t ld, int i, __m256 r[8]) {
    for (int k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(x + k * ld + i);
}

// Eight rows at once while eight remain; the entries past the last multiple of eight, and the last
// rows, as in the portable loop (continuing each row's chain in order).
__attribute__((target("avx2,fma")))
static void row_sums_avx2(const float *x, ptrdiff_t ldx, const float *y, ptrdiff_t ldy, int rows, int count,
                          const float *w, const float *centre, const float *scale, int kind,
                          float *first, float *second) {
    const int vector_end = count & ~7;
    int r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        const float *xr = x + r0 * ldx, *yr = y ? y + r0 * ldy : 0;
        __m256 a = _mm256_setzero_ps(), b = a;
        const __m256 c = kind ? _mm256_loadu_ps(centre + r0) : a;
        const __m256 s = kind == 2 ? _mm256_loadu_ps(scale + r0) : a;
        for (int i = 0; i < vector_end; i += 8) {
            __m256 v[8];
            load_rows(xr, ldx, i, v);
            olab_transpose8(v);
            if (kind == 0) {
                for (int k = 0; k < 8; k++) a = _mm256_add_ps(a, v[k]);
            } else if (kind == 1) {
                for (int k = 0; k < 8; k++) {
                    const __m256 d = _mm256_sub_ps(v[k], c);
                    a = _mm256_add_ps(a, _mm256_mul_ps(d, d));
                }
            } else {
                __m256 g[8];
                load_rows(yr, ldy, i, g);
                olab_transpose8(g);
                for (int k = 0; k < 8; k++) {
                    const __m256 dnorm = _mm256_mul_ps(_mm256_set1_ps(w[i + k]), g[k]);
                    a = _mm256_add_ps(a, dnorm);
                    b = _mm256_add_ps(b, _mm256_mul_ps(_mm256_mul_ps(dnorm, _mm256_sub_ps(v[k], c)), s));
                }
            }
        }
        float sa[8], sb[8];
        _mm256_storeu_ps(sa, a);
        _mm256_storeu_ps(sb, b);
        for (int k = 0; k < 8; k++) {
            const float *xk = xr + k * ldx;
            for (int i = vector_end; i < count; i++) {
                if (kind == 0) {
                    sa[k] += xk[i];
                } else if (kind == 1) {
                    const float d = xk[i] - centre[r0 + k];
                    sa[k] += d * d;
                } else {
                    const float dnorm = w[i] * yr[k * ldy + i];
                    sa[k] += dnorm;
                    sb[k] += dnorm * (xk[i] - centre[r0 + k]) * scale[r0 + k];
                }
            }
            first[r0 + k] = sa[k];
            if (kind == 2) second[r0 + k] = sb[k];
        }
    }
    if (r0 < rows)
        row_sums_portable(x + r0 * ldx, ldx, y ? y + r0 * ldy : 0, ldy, rows - r0, count, w,
                          centre ? centre + r0 : 0, scale ? scale + r0 : 0, kind,
                          first + r0, second ? second + r0 : 0);
}
#endif

static void row_sums(const float *x, ptrdiff_t ldx, const float *y, ptrdiff_t ldy, int rows, int count,
                     const float *w, const float *centre, const float *scale, int kind, float *first, float *second) {
#if defined(__x86_64__)
    if (olab_vector_lanes()) { row_sums_avx2(x, ldx, y, ldy, rows, count, w, centre, scale, kind, first, second); return; }
#endif
    row_sums_portable(x, ldx, y, ldy, rows, count, w, centre, scale, kind, first, second);
}

void olab_row_sums(const float *x, ptrdiff_t ldx, int rows, int count, float *sums) {
    row_sums(x, ldx, 0, 0, rows, count, 0, 0, 0, 0, sums, 0);
}

void olab_row_centred_square_sums(const float *x, ptrdiff_t ldx, int rows, int count, const float *centre, float *sums) {
    row_sums(x, ldx, 0, 0, rows, count, 0, centre, 0, 1, sums, 0);
}

void olab_layernorm_backward_sums(const float *x, ptrdiff_t ldx, const float *dy, ptrdiff_t ldy, int rows, int count,
                                  const float *weight, const float *mean, const float *rstd,
                                  float *dnorm_sums, float *dnorm_norm_sums) {
    row_sums(x, ldx, dy, ldy, rows, count, weight, mean, rstd, 2, dnorm_sums, dnorm_norm_sums);
}
