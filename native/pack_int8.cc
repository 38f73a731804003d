// PackFmt::INT8: quantisation (pack), and linear over the packed weight (layout and kernels:
// pack_int8-inl.h).
//
// Scheme (identical to packWeightReference "int8" in src/kernels/reference.ts): symmetric, one
// scale per output row, scale = f32(max_k |W[n][k]| / 127), q = round-half-up(W / scale) in
// [-127, 127] (computed in f64 like the TypeScript); activations stay f32. y = scale * (x . q).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pack_int8.h"
#include "pool.h"
#include "simd_i8.h"

#define DSOCR_INL "pack_int8-inl.h"
#include "isa_foreach.h"

namespace dsocr {

namespace {

constexpr size_t SMALL_M = 16;
constexpr size_t DEQ_ROWS = 512;  // large M: rows dequantised to f32 per GEMM call

inline double js_round(double v) {  // Math.round: half-way cases go up
  double f = std::floor(v);
  return v - f >= 0.5 ? f + 1.0 : f;
}

inline float plain_at(const WeightRef& w, size_t i) {
  return w.bf16 ? simd::bf16_to_f32(static_cast<const uint16_t*>(w.data)[i]) : static_cast<const float*>(w.data)[i];
}

}  // namespace

Packed* pack_int8(Isa, const WeightRef& src) {
  const size_t N = src.rows, K = src.cols, Np = int8::padded_n(N), Kp = int8::padded_k(K);
  auto* p = new Packed();
  p->fmt = PackFmt::INT8;
  p->rows = N;
  p->cols = K;
  p->group = 0;
  const size_t qbytes = std::max<size_t>(64, Np * Kp), sbytes = (Np * sizeof(float) + 63) / 64 * 64;
  p->data = std::aligned_alloc(64, qbytes);
  p->scales = static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(64, sbytes)));
  if (!p->data || !p->scales) {
    delete p;
    return nullptr;
  }
  p->bytes = Np * Kp + Np * sizeof(float);
  int8_t* q = static_cast<int8_t*>(p->data);
  float* scales = p->scales;
  pool::parallel_for(Np / int8::P, [&](size_t pi) {
    int8_t* panel = q + pi * int8::P * Kp;
    std::memset(panel, 0, int8::P * Kp);
    for (size_t i = 0; i < int8::P; ++i) {
      const size_t n = pi * int8::P + i;
      if (n >= N) {
        scales[n] = 0.f;
        continue;
      }
      float mx = 0.f;
      for (size_t k = 0; k < K; ++k) mx = std::max(mx, std::fabs(plain_at(src, n * K + k)));
      const float scale = static_cast<float>(static_cast<double>(mx) / 127.0);
      scales[n] = scale;
      if (scale == 0.f) continue;
      int8_t* row = panel + i * int8::KB;
      for (size_t k = 0; k < K; ++k) {
        double v = js_round(static_cast<double>(plain_at(src, n * K + k)) / static_cast<double>(scale));
        v = std::min(127.0, std::max(-127.0, v));
        row[(k / int8::KB) * int8::P * int8::KB + k % int8::KB] = static_cast<int8_t>(v);
      }
    }
  });
  return p;
}

void int8_rows(Isa isa, const float* x, size_t m, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy) {
  DSOCR_DISPATCH(isa, i8_rows, x, m, w, n0, n1, nullptr, y, ldy);
}

void linear_int8(Isa isa, const float* x, size_t M, const Packed& w, const float* bias, float* y) {
  const size_t N = w.rows, K = w.cols;
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (size_t i = 0; i < M; ++i)
      for (size_t j = 0; j < N; ++j) y[i * N + j] = bias ? bias[j] : 0.f;
    return;
  }
  if (M <= SMALL_M) {
    // Contiguous blocks of panels per task (each a sequential byte range of the weight).
    const size_t panels = int8::padded_n(N) / int8::P;
    const size_t th = static_cast<size_t>(pool::threads());
    const size_t per = std::clamp<size_t>(panels / (th * 8), 2, 64);
    pool::parallel_for((panels + per - 1) / per, [&](size_t t) {
      const size_t n0 = t * per * int8::P, n1 = std::min(N, n0 + per * int8::P);
      DSOCR_DISPATCH(isa, i8_rows, x, M, w, n0, n1, bias, y + n0, N);
    });
    return;
  }
  // Large M (prefill): dequantise DEQ_ROWS rows at a time to f32 and run the f32 GEMM on them.
  const size_t nc_max = std::min(N, DEQ_ROWS);
  std::vector<float> wf(nc_max * K), yt(M * nc_max);
  for (size_t n0 = 0; n0 < N; n0 += nc_max) {
    const size_t nc = std::min(nc_max, N - n0);
    pool::parallel_for((nc + int8::P - 1) / int8::P, [&](size_t t) {
      const size_t a = n0 + t * int8::P, b = std::min(n0 + nc, a + int8::P);
      DSOCR_DISPATCH(isa, i8_dequant, w, a, b, wf.data() + (a - n0) * K);
    });
    linear(isa, x, M, WeightRef{wf.data(), false, nc, K}, bias ? bias + n0 : nullptr, yt.data());
    for (size_t i = 0; i < M; ++i) std::memcpy(y + i * N + n0, yt.data() + i * nc, nc * sizeof(float));
  }
}

}  // namespace dsocr
