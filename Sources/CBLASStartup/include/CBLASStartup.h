#ifndef OUTLIERLAB_CBLAS_STARTUP_H
#define OUTLIERLAB_CBLAS_STARTUP_H
// OpenBLAS is put on one thread when the process loads, before any Swift code runs: every parallel
// split in OutlierLab is its own (fixed chunks, one single-threaded BLAS call each), so results never
// depend on OpenBLAS's thread count, which changes sgemm's bits on some kernels (Haswell among them).

/// The OpenBLAS thread count seen at load time, before it was set to 1 (OPENBLAS_NUM_THREADS or the
/// core count); recorded in run metadata so a user can see the variable had no effect.
int outlierlab_openblas_threads_at_load(void);
#endif
