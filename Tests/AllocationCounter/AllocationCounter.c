// Counting wrappers for the allocation entry points of glibc, for the "no allocation inside a training
// step" test. They forward to glibc's exported __libc_* allocator (no dlsym, so no bootstrap recursion)
// and only add a relaxed atomic increment while counting is on. free is not wrapped: every block still
// comes from glibc's allocator.
#include "AllocationCounter.h"

#if defined(__linux__)
#include <features.h>
#endif

#if defined(__linux__) && defined(__GLIBC__)
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static atomic_int counting;
static atomic_long allocations;

static inline void note(void) {
    if (atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    }
}

void *malloc(size_t size) { note(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { note(); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { note(); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    note();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}

void olab_allocation_count_start(void) {
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
}

long olab_allocation_count_stop(void) {
    atomic_store(&counting, 0);
    return atomic_load(&allocations);
}

int olab_allocation_counting_supported(void) { return 1; }

#else

void olab_allocation_count_start(void) {}
long olab_allocation_count_stop(void) { return 0; }
int olab_allocation_counting_supported(void) { return 0; }

#endif
