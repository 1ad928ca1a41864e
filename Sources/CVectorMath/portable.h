// Which path the functions of CVectorMath take (internal to the target).
#ifndef OLAB_CVECTORMATH_PORTABLE_H
#define OLAB_CVECTORMATH_PORTABLE_H

/// 1 when the AVX2 + FMA lanes run: the CPU has both and no test asked for the portable loops.
int olab_vector_lanes(void);

#endif
