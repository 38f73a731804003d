// Peak throughput of vdpbf16ps (zmm) and of vfmadd231ps (zmm) per thread count: every thread runs
// 24 independent accumulator chains (no loads). Used by scripts/bench-gemm.ts.
// Usage: bf16-peak <threads> <dot|fma>; prints GFLOP/s (1 vdpbf16ps = 64 flop, 1 zmm FMA = 32).
#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

template <bool DOT>
__attribute__((noinline)) float run(long iters) {
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(0.f);
  __m512 a = _mm512_set1_ps(1e-3f), b = _mm512_set1_ps(1e-3f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) {
      if constexpr (DOT) {
        acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)a, (__m512bh)b);
      } else {
        acc[i] = _mm512_fmadd_ps(a, b, acc[i]);
      }
    }
    __asm__ volatile("" : "+v"(a), "+v"(b));
  }
  __m512 s = acc[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

int main(int argc, char** argv) {
  int th = argc > 1 ? std::atoi(argv[1]) : 1;
  bool dot = argc > 2 && std::strcmp(argv[2], "dot") == 0;
  const long iters = 20'000'000;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::thread> ts;
    auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < th; ++t) ts.emplace_back([&] { volatile float r = dot ? run<true>(iters) : run<false>(iters); (void)r; });
    for (auto& t : ts) t.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double flops = double(iters) * 24 * (dot ? 64 : 32) * th;
    if (flops / s / 1e9 > best) best = flops / s / 1e9;
  }
  std::printf("%.1f\n", best);
}
