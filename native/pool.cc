#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DSOCR_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define DSOCR_PAUSE() __asm__ __volatile__("yield")
#else
#define DSOCR_PAUSE() ((void)0)
#endif

namespace dsocr::pool {

namespace {

thread_local bool tl_in_task = false;

// How long an idle worker spins before parking on the condition variable.
constexpr auto kSpin = std::chrono::microseconds(1000);

class Pool {
 public:
  explicit Pool(int n) { start(n); }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void set_threads(int n) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    stop();
    start(n);
  }

  void run(size_t n, void (*fn)(void*, size_t), void* ctx) {
    if (n == 0) return;
    if (n == 1 || tl_in_task) {
      serial(n, fn, ctx);
      return;
    }
    std::lock_guard<std::mutex> run_lock(run_mu_);  // one job at a time (e.g. two JS threads)
    if (workers_.empty()) {
      serial(n, fn, ctx);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(mu_);
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    work();
    // Wait until every worker has seen this job and left it (they must not touch it afterwards).
    unsigned spins = 0;
    while (pending_.load(std::memory_order_acquire) != 0) {
      if (++spins < 4096) {
        DSOCR_PAUSE();
      } else {
        std::this_thread::yield();
      }
    }
  }

 private:
  static void serial(size_t n, void (*fn)(void*, size_t), void* ctx) {
    bool prev = tl_in_task;
    tl_in_task = true;
    for (size_t i = 0; i < n; ++i) fn(ctx, i);
    tl_in_task = prev;
  }

  void start(int n) {
    if (n < 1) n = 1;
    if (n > 1024) n = 1024;
    quit_.store(false);
    uint64_t g0 = gen_.load(std::memory_order_acquire);  // no job can be published meanwhile
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, g0] { loop(g0); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      quit_.store(true);
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void work() {
    tl_in_task = true;
    for (;;) {
      size_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_) break;
      fn_(ctx_, i);
    }
    tl_in_task = false;
  }

  void loop(uint64_t seen) {
    for (;;) {
      // Spin for a while, then park.
      auto t0 = std::chrono::steady_clock::now();
      unsigned spins = 0;
      while (gen_.load(std::memory_order_acquire) == seen) {
        DSOCR_PAUSE();
        if ((++spins & 255) == 0 && std::chrono::steady_clock::now() - t0 > kSpin) {
          std::unique_lock<std::mutex> lk(mu_);
          cv_.wait(lk, [&] { return gen_.load(std::memory_order_acquire) != seen; });
          break;
        }
      }
      seen = gen_.load(std::memory_order_acquire);
      if (quit_.load()) return;
      work();
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<bool> quit_{false};
  std::atomic<size_t> next_{0};
  std::atomic<int> pending_{0};
  size_t n_ = 0;
  void (*fn_)(void*, size_t) = nullptr;
  void* ctx_ = nullptr;
};

Pool& the_pool() {
  // Never destroyed: parked workers simply end with the process.
  static Pool* p = new Pool(default_threads());
  return *p;
}

struct Scratch {
  void* ptr = nullptr;
  size_t size = 0;
  ~Scratch() { std::free(ptr); }
};

}  // namespace

int default_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

int threads() { return the_pool().threads(); }

void set_threads(int n) {
  if (n == the_pool().threads()) return;
  the_pool().set_threads(n);
}

void run(size_t n, void (*fn)(void*, size_t), void* ctx) { the_pool().run(n, fn, ctx); }

void* scratch(int slot, size_t bytes) {
  thread_local Scratch bufs[8];
  Scratch& s = bufs[slot & 7];
  if (s.size < bytes) {
    std::free(s.ptr);
    size_t sz = (bytes + 63) & ~static_cast<size_t>(63);
    s.ptr = std::aligned_alloc(64, sz);
    if (!s.ptr) std::abort();
    s.size = sz;
  }
  return s.ptr;
}

}  // namespace dsocr::pool
