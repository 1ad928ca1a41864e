#ifndef OLAB_CVECTORMATH_H
#define OLAB_CVECTORMATH_H

#include <stddef.h>

/// out[j] = expf(in[j] - shift) for 0 <= j < count, bit for bit what glibc's expf returns on this machine
/// (in and out may be the same array). On x86-64 CPUs with AVX2 and FMA (where glibc itself runs its
/// FMA variant of expf) eight lanes at a time by the same arithmetic; elsewhere, and for lanes outside
/// the main path (|x| >= 88, inf, nan), by calling expf.
void olab_exp_shifted(const float *in, float shift, float *out, ptrdiff_t count);

/// 1 when olab_exp_shifted runs its AVX2 + FMA lanes on this CPU, 0 when it calls expf per element.
int olab_exp_is_vectorised(void);

#endif
