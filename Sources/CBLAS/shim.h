#ifndef OUTLIERLAB_CBLAS_SHIM_H
#define OUTLIERLAB_CBLAS_SHIM_H
// OpenBLAS's CBLAS interface plus the few LAPACK routines the optimisers need.
#include <cblas.h>
#include <stddef.h>

// OpenBLAS identification, recorded in every run and golden header.
char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

// LAPACK (Fortran ABI): every argument by pointer, and one hidden `size_t` length
// per CHARACTER argument appended at the end, as gfortran passes them.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork,
             int *info, size_t jobz_len, size_t uplo_len);
void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau,
             double *work, const int *lwork, int *info);
void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda,
             const double *tau, double *work, const int *lwork, int *info);
void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau,
             float *work, const int *lwork, int *info);
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda,
             const float *tau, float *work, const int *lwork, int *info);
#endif
