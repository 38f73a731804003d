// Machine limits for `npm run bench` (bench/run.ts): streaming read bandwidth and FMA peak.
// Not used by the engine. Plain std::threads (not the kernel pool), so a limit does not depend on
// how the pool schedules. Each ISA-specific loop carries its own target attribute (no -march).
//
//   benchReadBandwidth(bytes, threads, repeats) -> GB/s (1e9 bytes/s), best of `repeats` passes:
//     each thread sums its contiguous share of a buffer (64-byte aligned, touched first) with
//     vector loads into several independent accumulators; a pass is timed from the start of the
//     first thread to the end of the last.
//   benchFmaPeak(kind, threads) -> GFLOP/s, best of 3 runs of a register-resident loop with
//     kAcc independent accumulators (no dependent chains shorter than kAcc instructions):
//     'f32-avx2'    vfmadd231ps ymm:  8 lanes x 2 FLOP = 16 FLOP per instruction
//     'f32-avx512'  vfmadd231ps zmm: 16 lanes x 2 FLOP = 32 FLOP per instruction
//     'bf16-avx512' vdpbf16ps zmm:   16 f32 lanes, each adds 2 bf16 x bf16 products = 2 FMAs per
//                   lane = 4 FLOP per lane = 64 FLOP per instruction
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cpu.h"
#include "simd.h"

namespace dsocr::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---- read bandwidth -------------------------------------------------------------------------

// Sum of n floats (n a multiple of 64), so the loads cannot be elided.
float sum_scalar(const float* p, size_t n) {
  float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (size_t i = 0; i < n; i += 4) {
    a0 += p[i];
    a1 += p[i + 1];
    a2 += p[i + 2];
    a3 += p[i + 3];
  }
  return a0 + a1 + a2 + a3;
}

#if DSOCR_X86
__attribute__((target("avx2"))) float sum_avx2(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 32) {
    if ((i & 63) == 0) _mm_prefetch(reinterpret_cast<const char*>(p + i + 1024), _MM_HINT_T0);
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  alignas(32) float t[8];
  _mm256_store_ps(t, s);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

__attribute__((target("avx512f"))) float sum_avx512(const float* p, size_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 1024), _MM_HINT_T0);  // 4 KiB ahead, as the decode kernels
    a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}
#endif

using SumFn = float (*)(const float*, size_t);

SumFn pick_sum() {
#if DSOCR_X86
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.osAvx512) return sum_avx512;
  if (f.avx2 && f.osAvx) return sum_avx2;
#endif
  return sum_scalar;
}

volatile float g_sink = 0;

double read_bandwidth(size_t bytes, int threads, int repeats) {
  const size_t chunk = 64 * sizeof(float) * static_cast<size_t>(threads);
  bytes = std::max(chunk, bytes / chunk * chunk);
  float* buf = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!buf) return -1;
  const size_t n = bytes / sizeof(float), per = n / static_cast<size_t>(threads);
  // Touch every page (each thread its own share, so pages sit near the thread that reads them).
  {
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([=] {
        float* p = buf + per * t;
        for (size_t i = 0; i < per; ++i) p[i] = static_cast<float>(i & 7) * 0.125f;
      });
    for (auto& t : ts) t.join();
  }
  SumFn sum = pick_sum();
  double best = 0;
  for (int r = 0; r < repeats + 1; ++r) {  // pass 0 warms up
    std::vector<float> sums(threads);
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 1; t < threads; ++t) ts.emplace_back([&, t] { sums[t] = sum(buf + per * t, per); });
    sums[0] = sum(buf, per);
    for (auto& t : ts) t.join();
    double s = seconds_since(t0);
    for (float v : sums) g_sink = g_sink + v;
    if (r > 0) best = std::max(best, static_cast<double>(per * threads * sizeof(float)) / s / 1e9);
  }
  std::free(buf);
  return best;
}

// ---- FMA peak -------------------------------------------------------------------------------

constexpr int kAcc = 16;  // independent accumulators: > latency (4) x FMA ports (2)
// AVX2 has 16 ymm registers: 16 accumulators + 2 operands would spill (a store and reload per
// iteration measured 1 FMA per cycle instead of 2 on Zen 4, half the rate the GEMM reaches).
constexpr int kAccAvx2 = 12;
constexpr long kIters = 1 << 22;

#if DSOCR_X86
__attribute__((target("avx2,fma"))) double fma_avx2(long iters) {
  __m256 acc[kAccAvx2];
  for (int i = 0; i < kAccAvx2; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kAccAvx2; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kAccAvx2; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float t[8];
  _mm256_store_ps(t, s);
  g_sink = g_sink + t[0];
  return static_cast<double>(iters) * kAccAvx2 * 16;
}

__attribute__((target("avx512f"))) double fma_avx512(long iters) {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  g_sink = g_sink + _mm512_reduce_add_ps(s);
  return static_cast<double>(iters) * kAcc * 32;
}

__attribute__((target("avx512f,avx512bf16"))) double dpbf16_avx512(long iters) {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  // bf16 pairs of small values: the accumulators grow slowly and stay finite.
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80);  // (1.0, 1.0)
  const __m512bh b = (__m512bh)_mm512_set1_epi32(0x33803380);  // (~6e-8, ~6e-8)
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  g_sink = g_sink + _mm512_reduce_add_ps(s);
  return static_cast<double>(iters) * kAcc * 64;
}
#endif

using FmaFn = double (*)(long);

// Returns the loop for `kind`, or nullptr with `why` set.
FmaFn pick_fma(const std::string& kind, std::string* why) {
#if DSOCR_X86
  const CpuFeatures& f = cpu_features();
  if (kind == "f32-avx2") {
    if (f.avx2 && f.fma && f.osAvx) return fma_avx2;
    *why = "this CPU has no AVX2+FMA";
    return nullptr;
  }
  if (kind == "f32-avx512") {
    if (f.avx512f && f.osAvx512) return fma_avx512;
    *why = "this CPU has no AVX-512F";
    return nullptr;
  }
  if (kind == "bf16-avx512") {
    if (f.avx512f && f.avx512bf16 && f.osAvx512) return dpbf16_avx512;
    *why = "this CPU has no AVX512_BF16";
    return nullptr;
  }
  *why = "kind must be 'f32-avx2', 'f32-avx512' or 'bf16-avx512', got '" + kind + "'";
#else
  *why = "FMA peak loops exist for x86-64 only";
#endif
  return nullptr;
}

double fma_peak(FmaFn fn, int threads) {
  fn(kIters / 16);  // warm up (clocks, page faults)
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    std::vector<double> flops(threads);
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 1; t < threads; ++t) ts.emplace_back([&, t] { flops[t] = fn(kIters); });
    flops[0] = fn(kIters);
    for (auto& t : ts) t.join();
    double s = seconds_since(t0), total = 0;
    for (double v : flops) total += v;
    best = std::max(best, total / s / 1e9);
  }
  return best;
}

// ---- bindings -------------------------------------------------------------------------------

bool int_arg(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi, double* out) {
  Napi::Value v = info[i];
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!v.IsNumber() || !(d >= lo && d <= hi && d == static_cast<double>(static_cast<int64_t>(d)))) {
    Napi::RangeError::New(info.Env(), std::string("dsocr_native: ") + name + " must be an integer in [" +
                                          std::to_string(static_cast<int64_t>(lo)) + ", " +
                                          std::to_string(static_cast<int64_t>(hi)) + "]")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = d;
  return true;
}

// benchReadBandwidth(bytes, threads, repeats) -> GB/s
Napi::Value ReadBandwidth(const Napi::CallbackInfo& info) {
  double bytes, threads, repeats;
  if (!int_arg(info, 0, "bytes", 1 << 20, 68719476736.0, &bytes) ||
      !int_arg(info, 1, "threads", 1, 256, &threads) || !int_arg(info, 2, "repeats", 1, 1000, &repeats))
    return info.Env().Undefined();
  double gbps = read_bandwidth(static_cast<size_t>(bytes), static_cast<int>(threads), static_cast<int>(repeats));
  if (gbps < 0) {
    Napi::Error::New(info.Env(), "dsocr_native: benchReadBandwidth: out of memory").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), gbps);
}

// benchFmaPeak(kind, threads) -> GFLOP/s
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) {
    Napi::TypeError::New(info.Env(), "dsocr_native: benchFmaPeak: kind must be a string").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  double threads;
  if (!int_arg(info, 1, "threads", 1, 256, &threads)) return info.Env().Undefined();
  std::string why;
  FmaFn fn = pick_fma(info[0].As<Napi::String>().Utf8Value(), &why);
  if (!fn) {
    Napi::RangeError::New(info.Env(), "dsocr_native: benchFmaPeak: " + why).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), fma_peak(fn, static_cast<int>(threads)));
}

}  // namespace

void register_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("benchReadBandwidth", Napi::Function::New(env, ReadBandwidth));
  exports.Set("benchFmaPeak", Napi::Function::New(env, FmaPeak));
}

}  // namespace dsocr::bench
