// int8 packed weights: kernels (one copy per ISA; see isa_foreach.h). Included by pack_int8.cc.
//
// Layout (PackFmt::INT8, built by pack_int8 in pack_int8.cc): the rows are cut into panels of
// P = 4 rows (the last padded with zero rows, scale 0); K is padded with zeros to a multiple of
// KB = 64. A panel is stored as K/KB chunks, each chunk the KB int8 values of row 0, then row 1,
// 2, 3 (4 cache lines). Panels follow each other, so rows [n0, n1) (n0 a multiple of 4) are one
// contiguous byte range and a task that owns them streams it front to back. scales[n] (f32, one
// per row, padded rows 0) turns the int8 dot product into the output: y = scale[n] * sum_k x[k] q[n][k].
//
// Small M (decode): for every panel and up to R rows of x, R x 4 vector accumulators; the int8
// values are widened to f32 on load (vpmovsxbd + vcvtdq2ps) and FMA'd with the f32 input
// (no activation quantisation: the only approximation is the weight's). With M > R the panel is
// first widened once into a per-thread f32 scratch (4 * Kp floats, in L1/L2) and reused.
#include "gemm-inl.h"

namespace dsocr {
namespace DSOCR_NS {
namespace {

using I8 = typename simd::I8Of<V>::T;
constexpr size_t I8P = int8::P;
constexpr size_t I8KB = int8::KB;
constexpr int I8_R = VW >= 16 ? 4 : (VW == 8 ? 2 : 4);  // x rows per block (accumulators R x 4)

DSOCR_INLINE VT ldq(const int8_t* p) { return I8::load(p); }
DSOCR_INLINE VT ldq(const float* p) { return V::load(p); }

// out[r * 4 + i] = sum_k x[r * K + k] * panel row i [k]   (r < R, i < 4), panel of S (int8 or f32).
template <int R, class S>
DSOCR_INLINE void panel_dot(const float* x, size_t K, const S* panel, float* out) {
  VT acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) acc[r][i] = V::zero();
  const size_t nfull = K / I8KB;
  const S* b = panel;
  const float* xk = x;
  for (size_t c = 0; c < nfull; ++c, b += I8P * I8KB, xk += I8KB) {
#pragma GCC unroll 64
    for (size_t s = 0; s < I8KB; s += VW) {
      VT wv[4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) wv[i] = ldq(b + i * I8KB + s);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        VT xv = V::load(xk + r * K + s);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) acc[r][i] = V::fma(xv, wv[i], acc[r][i]);
      }
    }
  }
  const size_t rest = K - nfull * I8KB;
  for (size_t s = 0; s < rest; s += VW) {
    const int t = static_cast<int>(std::min<size_t>(VW, rest - s));
    VT wv[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) wv[i] = ldq(b + i * I8KB + s);  // zero padded, in bounds
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      VT xv = V::loadn(xk + r * K + s, t);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) acc[r][i] = V::fma(xv, wv[i], acc[r][i]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) out[r * 4 + i] = V::hsum(acc[r][i]);
}

template <class S>
void panel_rows(int r, const float* x, size_t K, const S* panel, float* out) {
  switch (r) {
    case 1:
      panel_dot<1>(x, K, panel, out);
      break;
    case 2:
      if constexpr (I8_R >= 2) panel_dot<2>(x, K, panel, out);
      break;
    case 3:
      if constexpr (I8_R >= 3) panel_dot<3>(x, K, panel, out);
      break;
    case 4:
      if constexpr (I8_R >= 4) panel_dot<4>(x, K, panel, out);
      break;
  }
}

// Single-threaded: y[i * ldy + (n - n0)] = scale[n] * (x[i] . q[n]) (+ bias[n]) for n in [n0, n1).
void i8_rows(const float* x, size_t M, const Packed& w, size_t n0, size_t n1, const float* bias, float* y,
               size_t ldy) {
  const size_t K = w.cols, Kp = int8::padded_k(K);
  const int8_t* q = static_cast<const int8_t*>(w.data);
  float* fbuf = M > static_cast<size_t>(I8_R) ? pool::scratch_as<float>(3, I8P * Kp) : nullptr;
  float out[I8_R * 4];
  for (size_t n = n0; n < n1; n += I8P) {
    const int8_t* panel = q + n * Kp;
    const size_t nn = std::min(I8P, n1 - n);
    const float* sc = w.scales + n;
    if (fbuf) {
      for (size_t i = 0; i < I8P * Kp; i += VW) V::store(fbuf + i, ldq(panel + i));
    }
    for (size_t r0 = 0; r0 < M; r0 += I8_R) {
      const int rr = static_cast<int>(std::min<size_t>(I8_R, M - r0));
      if (fbuf) {
        panel_rows<float>(rr, x + r0 * K, K, fbuf, out);
      } else {
        panel_rows<int8_t>(rr, x + r0 * K, K, panel, out);
      }
      for (int r = 0; r < rr; ++r) {
        float* yr = y + (r0 + r) * ldy + (n - n0);
        for (size_t i = 0; i < nn; ++i) yr[i] = bias ? out[r * 4 + i] * sc[i] + bias[n + i] : out[r * 4 + i] * sc[i];
      }
    }
  }
}

// dst[(n - n0) * K + k] = q[n][k] * scale[n] for n in [n0, n1) (n0 a multiple of P): row-major f32.
void i8_dequant(const Packed& w, size_t n0, size_t n1, float* dst) {
  const size_t K = w.cols, Kp = int8::padded_k(K);
  const int8_t* q = static_cast<const int8_t*>(w.data);
  for (size_t n = n0; n < n1; ++n) {
    const int8_t* row = q + (n / I8P) * I8P * Kp + (n % I8P) * I8KB;
    const VT sc = V::set1(w.scales[n]);
    float* d = dst + (n - n0) * K;
    size_t k = 0;
    for (; k + VW <= K; k += VW) {
      const size_t c = k / I8KB, s = k % I8KB;  // VW divides KB: a vector never straddles chunks
      V::store(d + k, V::mul(ldq(row + c * I8P * I8KB + s), sc));
    }
    for (; k < K; ++k) d[k] = static_cast<float>(row[(k / I8KB) * I8P * I8KB + k % I8KB]) * w.scales[n];
  }
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr
