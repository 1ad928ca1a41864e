#include "CBLASStartup.h"

int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

static int threads_at_load = 0;

// Runs when the binary (olab, the test bundle) is loaded; libopenblas's own initialiser, a shared
// library dependency, has run by then.
__attribute__((constructor)) static void outlierlab_openblas_single_thread(void) {
    threads_at_load = openblas_get_num_threads();
    openblas_set_num_threads(1);
}

int outlierlab_openblas_threads_at_load(void) { return threads_at_load; }
