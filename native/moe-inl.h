// ISA-specific parts of the fused MoE (moe.cc): a single-threaded row-range matvec over plain
// weights.
#include "gemm-inl.h"

namespace dsocr {
namespace DSOCR_NS {
namespace {

constexpr int MOE_R = VW >= 16 ? 4 : (VW == 8 ? 2 : 4);

template <int R, class S>
DSOCR_INLINE void dot4(const float* x, size_t K, const S* const* w, float* out) {
  VT acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) acc[r][n] = V::zero();
  size_t k = 0;
  for (; k + VW <= K; k += VW) {
    VT wv[4];
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) wv[n] = loadw(w[n] + k);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      VT xv = V::load(x + r * K + k);
#pragma GCC unroll 4
      for (int n = 0; n < 4; ++n) acc[r][n] = V::fma(xv, wv[n], acc[r][n]);
    }
  }
  if (k < K) {
    const int t = static_cast<int>(K - k);
    VT wv[4];
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) wv[n] = loadwn(w[n] + k, t);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      VT xv = V::loadn(x + r * K + k, t);
#pragma GCC unroll 4
      for (int n = 0; n < 4; ++n) acc[r][n] = V::fma(xv, wv[n], acc[r][n]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) out[r * 4 + n] = V::hsum(acc[r][n]);
}

template <class S>
void plain_rows_t(const float* x, size_t M, const S* w, size_t K, size_t n0, size_t n1, float* y, size_t ldy) {
  float out[MOE_R * 4];
  for (size_t n = n0; n < n1; n += 4) {
    const size_t nn = std::min<size_t>(4, n1 - n);
    const S* rows[4];
    for (size_t i = 0; i < 4; ++i) rows[i] = w + (n + std::min(i, nn - 1)) * K;
    for (size_t r0 = 0; r0 < M; r0 += MOE_R) {
      const int rr = static_cast<int>(std::min<size_t>(MOE_R, M - r0));
      switch (rr) {
        case 1:
          dot4<1>(x + r0 * K, K, rows, out);
          break;
        case 2:
          if constexpr (MOE_R >= 2) dot4<2>(x + r0 * K, K, rows, out);
          break;
        case 3:
          if constexpr (MOE_R >= 3) dot4<3>(x + r0 * K, K, rows, out);
          break;
        default:
          if constexpr (MOE_R >= 4) dot4<4>(x + r0 * K, K, rows, out);
          break;
      }
      for (int r = 0; r < rr; ++r) {
        float* yr = y + (r0 + r) * ldy + (n - n0);
        for (size_t i = 0; i < nn; ++i) yr[i] = out[r * 4 + i];
      }
    }
  }
}

// y[i * ldy + (n - n0)] = x[i] . W[n] for n in [n0, n1), single-threaded.
void plain_rows(const float* x, size_t M, const WeightRef& w, size_t n0, size_t n1, float* y, size_t ldy) {
  if (w.bf16) {
    plain_rows_t(x, M, static_cast<const uint16_t*>(w.data), w.cols, n0, n1, y, ldy);
  } else {
    plain_rows_t(x, M, static_cast<const float*>(w.data), w.cols, n0, n1, y, ldy);
  }
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr
