#ifndef OLAB_CVECTORMATH_H
#define OLAB_CVECTORMATH_H

#include <stddef.h>

/// out[j] = expf(in[j] - shift) for 0 <= j < count, bit for bit what glibc's expf returns on this machine
/// (in and out may be the same array). On x86-64 CPUs with AVX2 and FMA (where glibc itself runs its
/// FMA variant of expf) eight lanes at a time by the same arithmetic; elsewhere, and for lanes outside
/// the main path (|x| >= 88, inf, nan), by calling expf.
void olab_exp_shifted(const float *in, float shift, float *out, ptrdiff_t count);

/// The causal softmax of rows i0 <= i < i1 in place: row i is s + (i − i0)·lds and holds i + 1 logits,
/// which become exp(z − max) · (1/sum) with exp as olab_exp_shifted, the max over the non-nan entries and
/// the sum one float chain in index order; entries i + 1 … width − 1 become 0. The bits of the plain loop
/// (softmax of each row, then zeros), on every path.
void olab_causal_softmax(float *s, ptrdiff_t lds, int i0, int i1, int width);

/// 1 when olab_exp_shifted runs its AVX2 + FMA lanes on this CPU, 0 when it calls expf per element.
int olab_exp_is_vectorised(void);


// The three causal products of one attention head, for small heads where an sgemm call per product
// costs more than the product. Every output element is one fixed chain of fused multiply-adds
// (fmaf's single rounding) in a fixed order, so the AVX2 + FMA lanes and the portable loop give the
// same bits on every machine (and neither depends on the BLAS kernel). Row-major, strides in floats.

/// s[(i − i0)·lds + j] = scale · (Σ_d a[i·lda + d] · b[j·ldb + d]) for i0 <= i < i1 and 0 <= j <= i: the
/// causal rows of scale · a·bᵀ (a, b with n columns); the sum is fmaf over d = 0, 1, …, n − 1 from 0.
/// Entries right of the diagonal are not written.
void olab_causal_abt(const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, int i0, int i1, int n,
                     float scale, float *s, ptrdiff_t lds);

/// out[(i − i0)·ldo + d] = scale · (Σ_{j <= i} p[(i − i0)·ldp + j] · b[j·ldb + d]) for i0 <= i < i1, d < n,
/// the sum fmaf over j = 0, 1, …, i from 0; with accumulate, out + that instead.
void olab_causal_pb(const float *p, ptrdiff_t ldp, const float *b, ptrdiff_t ldb, int i0, int i1, int n,
                    float scale, int accumulate, float *out, ptrdiff_t ldo);

/// out[j·ldo + d] = fmaf(scale · p[(i − i0)·ldp + j], b[i·ldb + d], out[j·ldo + d]) for i = i0, …, i1 − 1 in
/// order and every j <= i, d < n: adds the causal scale · pᵀ·b of a block of rows to out, row by row.
void olab_causal_ptb(const float *p, ptrdiff_t ldp, const float *b, ptrdiff_t ldb, int i0, int i1, int n,
                     float scale, float *out, ptrdiff_t ldo);

// LayerNorm's row sums. Row r is x + r·ldx (and dy + r·ldy); every sum is one float chain over
// i = 0, 1, …, count − 1 from 0, each term computed as written (no fused multiply-adds), so the AVX2
// lanes (eight rows side by side) and the portable loop (one row at a time) give the same bits.

/// sums[r] = Σ_i x[r·ldx + i] for r < rows.
void olab_row_sums(const float *x, ptrdiff_t ldx, int rows, int count, float *sums);

/// sums[r] = Σ_i d·d with d = x[r·ldx + i] − centre[r], for r < rows.
void olab_row_centred_square_sums(const float *x, ptrdiff_t ldx, int rows, int count, const float *centre, float *sums);

/// With dnorm = weight[i] · dy[r·ldy + i]: dnorm_sums[r] = Σ_i dnorm and
/// dnorm_norm_sums[r] = Σ_i (dnorm · (x[r·ldx + i] − mean[r])) · rstd[r], for r < rows.
void olab_layernorm_backward_sums(const float *x, ptrdiff_t ldx, const float *dy, ptrdiff_t ldy, int rows, int count,
                                  const float *weight, const float *mean, const float *rstd,
                                  float *dnorm_sums, float *dnorm_norm_sums);

/// Tests only: 1 makes every function here take its portable loop (expf per element, fmaf chains), to
/// compare it with the vector lanes on the same machine; 0 restores the CPU's choice.
void olab_vector_math_force_portable(int portable);

#endif
