#ifndef OUTLIERLAB_ALLOCATION_COUNTER_H
#define OUTLIERLAB_ALLOCATION_COUNTER_H

/// Counts heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by
/// any thread of the test process between start and stop. Test-only: linking this target replaces the
/// process's allocation entry points with counting wrappers around glibc's own allocator.
void olab_allocation_count_start(void);
/// Stops counting and returns the number of allocations since the matching start.
long olab_allocation_count_stop(void);
/// 1 when the wrappers are active (glibc), 0 where counting is unsupported.
int olab_allocation_counting_supported(void);

#endif
