// The one thread pool every kernel uses.
//
// run(n, fn, ctx) calls fn(ctx, i) for i in [0, n) on the pool's threads and the calling thread
// (dynamic scheduling through an atomic counter) and returns when all calls are done. Workers spin
// briefly after a job (back-to-back kernel calls find them awake) and then park on a condition
// variable. A run() from inside a task, or with one thread, executes serially in the caller.
// Results never depend on the thread count as long as each task's arithmetic depends only on i.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace dsocr {

namespace pool {

/** Number of threads (workers + the caller), >= 1. */
int threads();
/** Sets the number of threads (>= 1; clamped to 1024). Joins and respawns the workers. */
void set_threads(int n);
/** Default thread count: CPUs in this process's affinity mask. */
int default_threads();

void run(size_t n, void (*fn)(void*, size_t), void* ctx);

/** parallel_for(n, f): f(i) for i in [0, n). */
template <class F>
void parallel_for(size_t n, F&& f) {
  using Fn = std::remove_reference_t<F>;
  run(
      n, [](void* c, size_t i) { (*static_cast<Fn*>(c))(i); }, const_cast<void*>(static_cast<const void*>(&f)));
}

/**
 * A per-thread scratch buffer of at least `bytes` bytes, 64-byte aligned, kept between calls
 * (slot picks one of 8 independent buffers). Contents are undefined.
 */
void* scratch(int slot, size_t bytes);

template <class T>
T* scratch_as(int slot, size_t count) {
  return static_cast<T*>(scratch(slot, count * sizeof(T)));
}

}  // namespace pool

}  // namespace dsocr
