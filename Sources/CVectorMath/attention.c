// The causal products of one attention head (see CVectorMath.h): fmaf chains in a fixed order, eight
// lanes at a time where the CPU has AVX2 and FMA, one at a time elsewhere, with the same bits.
#include "CVectorMath.h"
#include "portable.h"
#include "transpose.h"

#include <math.h>
#include <stdint.h>

// Every multiply and add below is the one written: no contraction into fused multiply-adds behind our
// back (the FMA-enabled and portable functions would then round differently).
#pragma STDC FP_CONTRACT OFF

// Keys per transposed panel of b in olab_causal_abt: n × 128 floats (32 KB at n = 64) on the stack.
enum { panel_keys = 128 };

static void causal_abt_portable(const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, int i0, int i1,
                                int n, float scale, float *s, ptrdiff_t lds) {
    for (int i = i0; i < i1; i++) {
        for (int j = 0; j <= i; j++) {
            float acc = 0;
            for (int d = 0; d < n; d++) acc = fmaf(a[i * lda + d], b[j * ldb + d], acc);
            s[(i - i0) * lds + j] = scale * acc;
        }
    }
}

static void causal_pb_portable(const float *p, ptrdiff_t ldp, const float *b, ptrdiff_t ldb, int i0, int i1,
                               int n, float scale, int accumulate, float *out, ptrdiff_t ldo) {
    for (int i = i0; i < i1; i++) {
        const float *pi = p + (i - i0) * ldp;
        float *oi = out + (i - i0) * ldo;
        for (int d = 0; d < n; d++) {
            float acc = 0;
            for (int j = 0; j <= i; j++) acc = fmaf(pi[j], b[j * ldb + d], acc);
            oi[d] = accumulate ? oi[d] + scale * acc : scale * acc;
        }
    }
}

static void causal_ptb_portable(const float *p, ptrdiff_t ldp, const float *b, ptrdiff_t ldb, int i0, int i1,
                                int n, float scale, float *out, ptrdiff_t ldo) {
    for (int i = i0; i < i1; i++) {
        const float *pi = p + (i - i0) * ldp, *bi = b + i * ldb;
        for (int j = 0; j <= i; j++) {
            const float c = scale * pi[j];
            for (int d = 0; d < n; d++) out[j * ldo + d] = fmaf(c, bi[d], out[j * ldo + d]);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// panel[d·ldt + j] = b[j·ldb + d] for j < keys, d < n, and 0 for keys <= j < ldt (a multiple of 8):
// whole 8 × 8 tiles by AVX2 shuffles, the edges one by one.
__attribute__((target("avx2,fma")))
static void transpose_panel(const float *restrict b, ptrdiff_t ldb, int keys, int n, float *restrict panel, int ldt) {
    const int key_tiles = keys & ~7, column_tiles = n & ~7;
    for (int j = 0; j < key_tiles; j += 8) {
        for (int d = 0; d < column_tiles; d += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(b + (j + k) * ldb + d);
            olab_transpose8(r);
            for (int k = 0; k < 8; k++) _mm256_storeu_ps(panel + (d + k) * ldt + j, r[k]);
        }
        for (int d = column_tiles; d < n; d++)
            for (int k = 0; k < 8; k++) panel[d * ldt + j + k] = b[(j + k) * ldb + d];
    }
    for (int j = key_tiles; j < keys; j++)
        for (int d = 0; d < n; d++) panel[d * ldt + j] = b[j * ldb + d];
    for (int d = 0; d < n; d++)
        for (int j = keys; j < ldt; j++) panel[d * ldt + j] = 0;
}

// Stores the first `count` lanes of v at p (all eight when count >= 8).
__attribute__((target("avx2,fma")))
static inline void store_lanes(float *p, __m256 v, int count) {
    if (count >= 8) { _mm256_storeu_ps(p, v); return; }
    if (count <= 0) return;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane), v);
}

// Rows i … i+3 of the causal scale·a·bᵀ against one transposed panel of keys, 16 keys a block: eight
// independent fma chains (four rows × two vectors) per block, so the chains' latency is hidden even for
// the short rows of a small head (n = 16 gives each chain only 16 steps). Every entry is still the fmaf
// chain over d = 0 … n − 1 from 0; lanes past a row's own keys are computed and not stored.
__attribute__((target("avx2,fma")))
static void causal_abt_avx2(const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, int i0, int i1,
                            int n, float scale, float *s, ptrdiff_t lds) {
    const int width_limit = n > 0 ? ((16384 / n) & ~15) : panel_keys;
    const int width = width_limit < 16 ? 16 : (width_limit < panel_keys ? width_limit : panel_keys);
    float panel[(size_t)(n > 0 ? n : 1) * (size_t)width];   // bᵀ of keys jp … jp + width − 1, zero-padded
    const __m256 vscale = _mm256_set1_ps(scale);
    for (int jp = 0; jp < i1; jp += width) {
        const int keys = (i1 - jp < width) ? i1 - jp : width;
        const int padded = (keys + 15) & ~15;
        transpose_panel(b + jp * ldb, ldb, keys, n, panel, padded);
        for (int i = (i0 > jp ? i0 : jp); i < i1; i += 4) {
            const int rows = (i1 - i < 4) ? i1 - i : 4;
            // Rows past i1 repeat the last row's inputs and are not stored.
            const float *ar[4];
            int count[4];
            for (int r = 0; r < 4; r++) {
                const int row = (r < rows) ? i + r : i + rows - 1;
                ar[r] = a + row * lda;
                count[r] = (r < rows) ? ((row + 1 - jp < keys) ? row + 1 - jp : keys) : 0;   // keys of this panel in the row
            }
            const int last = count[rows - 1];
            for (int c = 0; c < last; c += 16) {
                __m256 x0 = _mm256_setzero_ps(), x1 = x0, y0 = x0, y1 = x0, z0 = x0, z1 = x0, w0 = x0, w1 = x0;
                const float *column = panel + c;
                for (int d = 0; d < n; d++) {
                    const __m256 k0 = _mm256_loadu_ps(column + d * padded), k1 = _mm256_loadu_ps(column + d * padded + 8);
                    __m256 u = _mm256_set1_ps(ar[0][d]);
                    x0 = _mm256_fmadd_ps(u, k0, x0); x1 = _mm256_fmadd_ps(u, k1, x1);
                    u = _mm256_set1_ps(ar[1][d]);
                    y0 = _mm256_fmadd_ps(u, k0, y0); y1 = _mm256_fmadd_ps(u, k1, y1);
                    u = _mm256_set1_ps(ar[2][d]);
                    z0 = _mm256_fmadd_ps(u, k0, z0); z1 = _mm256_fmadd_ps(u, k1, z1);
                    u = _mm256_set1_ps(ar[3][d]);
                    w0 = _mm256_fmadd_ps(u, k0, w0); w1 = _mm256_fmadd_ps(u, k1, w1);
                }
                float *s0 = s + (i - i0) * lds + jp + c;
                store_lanes(s0, _mm256_mul_ps(vscale, x0), count[0] - c);
                store_lanes(s0 + 8, _mm256_mul_ps(vscale, x1), count[0] - c - 8);
                if (rows > 1) {
                    store_lanes(s0 + lds, _mm256_mul_ps(vscale, y0), count[1] - c);
                    store_lanes(s0 + lds + 8, _mm256_mul_ps(vscale, y1), count[1] - c - 8);
                }
                if (rows > 2) {
                    store_lanes(s0 + 2 * lds, _mm256_mul_ps(vscale, z0), count[2] - c);
                    store_lanes(s0 + 2 * lds + 8, _mm256_mul_ps(vscale, z1), count[2] - c - 8);
                }
                if (rows > 3) {
                    store_lanes(s0 + 3 * lds, _mm256_mul_ps(vscale, w0), count[3] - c);
                    store_lanes(s0 + 3 * lds + 8, _mm256_mul_ps(vscale, w1), count[3] - c - 8);
                }
            }
        }
    }
}

// One row of the causal p·b from column d0 on, eight columns a vector, fma over j in order; what
// causal_pb_rows4 leaves (rows past a multiple of four, columns past a multiple of 16).
__attribute__((target("avx2,fma")))
static void causal_pb_row(const float *restrict pi, const float *restrict b, ptrdiff_t ldb, int i, int d0, int n,
                          float scale, int accumulate, float *restrict oi) {
    const int vector_end = n & ~7;
    const __m256 vscale = _mm256_set1_ps(scale);
    for (int d = d0; d < vector_end; d += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int j = 0; j <= i; j++) acc = _mm256_fmadd_ps(_mm256_set1_ps(pi[j]), _mm256_loadu_ps(b + j * ldb + d), acc);
        __m256 result = _mm256_mul_ps(vscale, acc);
        if (accumulate) result = _mm256_add_ps(_mm256_loadu_ps(oi + d), result);
        _mm256_storeu_ps(oi + d, result);
    }
    for (int d = (vector_end > d0 ? vector_end : d0); d < n; d++) {
        float acc = 0;
        for (int j = 0; j <= i; j++) acc = fmaf(pi[j], b[j * ldb + d], acc);
        oi[d] = accumulate ? oi[d] + scale * acc : scale * acc;
    }
}

// Rows i … i+3 of the causal p·b, columns d0 … d0+15: eight independent fma chains in registers (one
// chain per row and vector would wait on the fma latency). Row i + r sums j = 0 … i + r in order.
__attribute__((target("avx2,fma")))
static void causal_pb_rows4(const float *restrict p, ptrdiff_t ldp, const float *restrict b, ptrdiff_t ldb, int i,
                            int d0, float scale, int accumulate, float *restrict out, ptrdiff_t ldo) {
    const float *p0 = p, *p1 = p + ldp, *p2 = p + 2 * ldp, *p3 = p + 3 * ldp;
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    for (int j = 0; j <= i; j++) {
        const __m256 b0 = _mm256_loadu_ps(b + j * ldb + d0), b1 = _mm256_loadu_ps(b + j * ldb + d0 + 8);
        __m256 w = _mm256_set1_ps(p0[j]);
        a00 = _mm256_fmadd_ps(w, b0, a00); a01 = _mm256_fmadd_ps(w, b1, a01);
        w = _mm256_set1_ps(p1[j]);
        a10 = _mm256_fmadd_ps(w, b0, a10); a11 = _mm256_fmadd_ps(w, b1, a11);
        w = _mm256_set1_ps(p2[j]);
        a20 = _mm256_fmadd_ps(w, b0, a20); a21 = _mm256_fmadd_ps(w, b1, a21);
        w = _mm256_set1_ps(p3[j]);
        a30 = _mm256_fmadd_ps(w, b0, a30); a31 = _mm256_fmadd_ps(w, b1, a31);
    }
    // The last keys: j = i+1 for rows 1–3, i+2 for rows 2–3, i+3 for row 3.
    for (int j = i + 1; j <= i + 3; j++) {
        const __m256 b0 = _mm256_loadu_ps(b + j * ldb + d0), b1 = _mm256_loadu_ps(b + j * ldb + d0 + 8);
        __m256 w;
        if (j == i + 1) {
            w = _mm256_set1_ps(p1[j]);
            a10 = _mm256_fmadd_ps(w, b0, a10); a11 = _mm256_fmadd_ps(w, b1, a11);
        }
        if (j <= i + 2) {
            w = _mm256_set1_ps(p2[j]);
            a20 = _mm256_fmadd_ps(w, b0, a20); a21 = _mm256_fmadd_ps(w, b1, a21);
        }
        w = _mm256_set1_ps(p3[j]);
        a30 = _mm256_fmadd_ps(w, b0, a30); a31 = _mm256_fmadd_ps(w, b1, a31);
    }
    const __m256 vscale = _mm256_set1_ps(scale);
    const __m256 sums[8] = {a00, a01, a10, a11, a20, a21, a30, a31};
    for (int k = 0; k < 8; k++) {
        float *o = out + (k / 2) * ldo + d0 + 8 * (k % 2);
        __m256 result = _mm256_mul_ps(vscale, sums[k]);
        if (accumulate) result = _mm256_add_ps(_mm256_loadu_ps(o), result);
        _mm256_storeu_ps(o, result);
    }
}

__attribute__((target("avx2,fma")))
static void causal_pb_avx2(const float *p, ptrdiff_t ldp, const float *b, ptrdiff_t ldb, int i0, int i1,
                           int n, float scale, int accumulate, float *out, ptrdiff_t ldo) {
    const int wide_end = n & ~15;
    int i = i0;
    for (; i + 4 <= i1; i += 4) {
        for (int d0 = 0; d0 < wide_end; d0 += 16)
            causal_pb_rows4(p + (i - i0) * ldp, ldp, b, ldb, i, d0, scale, accumulate, out + (i - i0) * ldo, ldo);
        if (wide_end < n)
            for (int r = 0; r < 4; r++)
                causal_pb_row(p + (i + r - i0) * ldp, b, ldb, i + r, wide_end, n, scale, accumulate, out + (i + r - i0) * ldo);
    }
    for (; i < i1; i++) causal_pb_row(p + (i - i0) * ldp, b, ldb, i, 0, n, scale, accumulate, out + (i - i0) * ldo);
}

// Keys j … j+3 of the causal scale·pᵀ·b over rows i0 … i1−1, columns d0 … d0+15, accumulated onto out in
// registers: key j + k takes rows i >= j + k, in order (the same fmaf chain as row after row).
__attribute__((target("avx2,fma")))
static void causal_ptb_keys4(const float *restrict p, ptrdiff_t ldp, const float *restrict b, ptrdiff_t ldb,
                             int i0, int i1, int j, int d0, float scale, float *restrict out, ptrdiff_t ldo) {
    float *o0 = out + j * ldo + d0, *o1 = o0 + ldo, *o2 = o1 + ldo, *o3 = o2 + ldo;
    __m256 a00 = _mm256_loadu_ps(o0), a01 = _mm256_loadu_ps(o0 + 8), a10 = _mm256_loadu_ps(o1), a11 = _mm256_loadu_ps(o1 + 8);
    __m256 a20 = _mm256_loadu_ps(o2), a21 = _mm256_loadu_ps(o2 + 8), a30 = _mm256_loadu_ps(o3), a31 = _mm256_loadu_ps(o3 + 8);
    int i = i0 > j ? i0 : j;
    // Rows before j + 3 reach only some of the four keys.
    for (; i < i1 && i < j + 3; i++) {
        const float *pi = p + (i - i0) * ldp + j;
        const __m256 b0 = _mm256_loadu_ps(b + i * ldb + d0), b1 = _mm256_loadu_ps(b + i * ldb + d0 + 8);
        __m256 w = _mm256_set1_ps(scale * pi[0]);
        a00 = _mm256_fmadd_ps(w, b0, a00); a01 = _mm256_fmadd_ps(w, b1, a01);
        if (i >= j + 1) { w = _mm256_set1_ps(scale * pi[1]); a10 = _mm256_fmadd_ps(w, b0, a10); a11 = _mm256_fmadd_ps(w, b1, a11); }
        if (i >= j + 2) { w = _mm256_set1_ps(scale * pi[2]); a20 = _mm256_fmadd_ps(w, b0, a20); a21 = _mm256_fmadd_ps(w, b1, a21); }
    }
    for (; i < i1; i++) {
        const float *pi = p + (i - i0) * ldp + j;
        const __m256 b0 = _mm256_loadu_ps(b + i * ldb + d0), b1 = _mm256_loadu_ps(b + i * ldb + d0 + 8);
        __m256 w = _mm256_set1_ps(scale * pi[0]);
        a00 = _mm256_fmadd_ps(w, b0, a00); a01 = _mm256_fmadd_ps(w, b1, a01);
        w = _mm256_set1_ps(scale * pi[1]);
        a10 = _mm256_fmadd_ps(w, b0, a10); a11 = _mm256_fmadd_ps(w, b1, a11);
        w = _mm256_set1_ps(scale * pi[2]);
        a20 = _mm256_fmadd_ps(w, b0, a20); a21 = _mm256_fmadd_ps(w, b1, a21);
        w = _mm256_set1_ps(scale * pi[3]);
        a30 = _mm256_fmadd_ps(w, b0, a30); a31 = _mm256_fmadd_ps(w, b1, a31);
    }
    _mm256_storeu_ps(o0, a00); _mm256_storeu_ps(o0 + 8, a01); _mm256_storeu_ps(o1, a10); _mm256_storeu_ps(o1 + 8, a11);
    _mm256_storeu_ps(o2, a20); _mm256_storeu_ps(o2 + 8, a21); _mm256_storeu_ps(o3, a30); _mm256_storeu_ps(o3 + 8, a31);
}

// One key of the causal scale·pᵀ·b from column d0 on (what causal_ptb_keys4 leaves), rows in order.
__attribute__((target("avx2,fma")))
static void causal_ptb_key(const float *restrict p, ptrdiff_t ldp, const float *restrict b, ptrdiff_t ldb,
                           int i0, int i1, int j, int d0, int n, float scale, float *restrict oj) {
    const int vector_end = n & ~7;
    for (int i = (i0 > j ? i0 : j); i < i1; i++) {
        const float c = scale * p[(i - i0) * ldp + j];
        const __m256 vc = _mm256_set1_ps(c);
        const float *bi = b + i * ldb;
        int d = d0;
        for (; d + 8 <= vector_end; d += 8)
            _mm256_storeu_ps(oj + d, _mm256_fmadd_ps(vc, _mm256_loadu_ps(bi + d), _mm256_loadu_ps(oj + d)));
        for (; d < n; d++) oj[d] = fmaf(c, bi[d], oj[d]);
    }
}

__attribute__((target("avx2,fma")))
static void causal_ptb_avx2(const float *p, ptrdiff_t ldp, const float *b, ptrdiff_t ldb, int i0, int i1,
                            int n, float scale, float *out, ptrdiff_t ldo) {
    const int wide_end = n & ~15;
    int j = 0;
    for (; j + 4 <= i1; j += 4) {
        for (int d0 = 0; d0 < wide_end; d0 += 16) causal_ptb_keys4(p, ldp, b, ldb, i0, i1, j, d0, scale, out, ldo);
        if (wide_end < n)
            for (int k = 0; k < 4; k++) causal_ptb_key(p, ldp, b, ldb, i0, i1, j + k, wide_end, n, scale, out + (j + k) * ldo);
    }
    for (; j < i1; j++) causal_ptb_key(p, ldp, b, ldb, i0, i1, j, 0, n, scale, out + j * ldo);
}
#endif

// Runs name_avx2 where the vector lanes run, else name_portable, with the same arguments (same bits).
#if defined(__x86_64__)
#define DISPATCH(name, ...) do { if (olab_vector_lanes()) name##_avx2(__VA_ARGS__); else name##_portable(__VA_ARGS__); } while (0)
#else
#define DISPATCH(name, ...) name##_portable(__VA_ARGS__)
#endif

void olab_causal_abt(const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, int i0, int i1, int n,
                     float scale, float *s, ptrdiff_t lds) {
    DISPATCH(causal_abt, a, lda, b, ldb, i0, i1, n, scale, s, lds);
}

void olab_causal_pb(const float *p, ptrdiff_t ldp, const float *b, ptrdiff_t ldb, int i0, int i1, int n,
                    float scale, int accumulate, float *out, ptrdiff_t ldo) {
    DISPATCH(causal_pb, p, ldp, b, ldb, i0, i1, n, scale, accumulate, out, ldo);
}

void olab_causal_ptb(const float *p, ptrdiff_t ldp, const float *b, ptrdiff_t ldb, int i0, int i1, int n,
                     float scale, float *out, ptrdiff_t ldo) {
    DISPATCH(causal_ptb, p, ldp, b, ldb, i0, i1, n, scale, out, ldo);
}
