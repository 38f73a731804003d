// Packed weights live in their own mappings (weight_alloc): freeing a model (releasePacked, engine
// close) returns them to the system at once, whatever malloc keeps for itself (tune_malloc).
// (Marking them for transparent huge pages was tried: this VM gave no huge pages, so it stays out
// until it can be measured.)
//
// tune_malloc: prefill and encode allocate and free tens of MiB of activations per layer (the
// TypeScript side's Float32Arrays come from malloc too). With glibc's defaults the large ones are
// mmap'ed and unmapped each time, and every layer faults in and zeroes fresh pages: on the 2-vCPU
// VM of BENCHMARKS.md that was ~10% of a 1131-row prefill (3.3-3.4 s -> 2.9-3.0 s with
// M_MMAP_THRESHOLD 32 MiB (glibc's maximum) and M_TRIM_THRESHOLD 512 MiB).
#include "weight_alloc.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#if DSOCR_WEIGHT_MMAP
#include <sys/mman.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace dsocr {

void* weight_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
#if DSOCR_WEIGHT_MMAP
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
#else
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p) std::memset(p, 0, bytes);
  return p;
#endif
}

void weight_free(void* p, size_t bytes) {
  if (!p) return;
#if DSOCR_WEIGHT_MMAP
  munmap(p, bytes);
#else
  (void)bytes;
  std::free(p);
#endif
}

void tune_malloc() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
#if defined(__GLIBC__)
  const char* off = std::getenv("DSOCR_MALLOC_TUNING");
  if (off && std::strcmp(off, "0") == 0) return;
  for (const char* v : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"})
    if (std::getenv(v)) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

}  // namespace dsocr
