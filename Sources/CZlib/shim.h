#ifndef OUTLIERLAB_CZLIB_SHIM_H
#define OUTLIERLAB_CZLIB_SHIM_H
#include <zlib.h>

// deflateInit2/inflateInit2 are macros, which Swift cannot import: wrap them.
// windowBits 15 + 16 selects the gzip container (so zcat and Python's gzip read our files).
static inline int olab_deflate_init_gzip(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
static inline int olab_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 15 + 16);
}
#endif
