// Memory of packed weights and the process's malloc settings (see weight_alloc.cc).
#pragma once

#include <cstddef>

namespace dsocr {

// `bytes` (> 0) of zeroed memory, page aligned, mapped on its own rather than taken from the malloc
// heap; null when the system refuses.
void* weight_alloc(size_t bytes);
// Returns memory of weight_alloc(bytes) to the system at once. Null is ignored.
void weight_free(void* p, size_t bytes);

// glibc: keeps freed activation buffers (< 32 MiB) in the heap instead of unmapping them, so that
// the next layer's buffers do not fault in fresh zeroed pages (prefill ~10% faster on a VM).
// Skipped when the user set MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES, or
// DSOCR_MALLOC_TUNING=0. Once per process; no-op elsewhere.
void tune_malloc();

}  // namespace dsocr
