// Memory of packed weights and the process's malloc settings (see weight_alloc.cc).
#pragma once

// 1 where weight_alloc / weight_free are mmap / munmap (so a pack may also be a mapped file region,
// packed_io.cc), 0 where they are aligned_alloc / free.
#if defined(__unix__) || defined(__APPLE__)
#define DSOCR_WEIGHT_MMAP 1
#else
#define DSOCR_WEIGHT_MMAP 0
#endif

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
