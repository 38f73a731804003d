// int8 packed weights: kernels (one copy per ISA; see isa_foreach.h). Included by pack_int8.cc.
//
// Layout (PackFmt::INT8, built by i8_pack_panel below): the rows are cut into panels of P = 4 rows
// (the last padded with zero rows, scales 0); K is padded with zeros to a multiple of KB = 64. A
// panel is stored as K/KB chunks, each chunk the KB int8 values of row 0, then row 1, 2, 3 (4 cache
// lines). Panels follow each other, so rows [n0, n1) (n0 a multiple of 4) are one contiguous byte
// range and a task that owns them streams it front to back.
// Scales: f32 [Np, ng], row-major, ng = ceil(K / G) groups of G = w.group (32, 64 or 128)
// consecutive k values per row (the last group shorter when G does not divide K):
//   W[n][k] ~ q[n][k] * s[n][k / G],   y[n] = sum_g s[n][g] * sum_{k in group g} x[k] q[n][k].
// Activations are quantised per row and group to int16 (quant_x, pack_int8.h QuantX):
// y[r][n] = sum_g s[n][g] sx[r][g] sum_{k in g} qx[r][k] q[n][k]. On AVX512_VNNI CPUs the integer
// products run on vpdpwssd, decode (panel_dot_vnni below) and prefill (gemm_int8.cc); elsewhere the
// f32 kernels take the dequantised rows f32(qx * sx).
#include "gemm-inl.h"

namespace dsocr {
namespace DSOCR_NS {
namespace {

using I8 = typename simd::I8Of<V>::T;
constexpr size_t I8P = int8::P;
constexpr size_t I8KB = int8::KB;
// x rows per block of the f32 panel dot (accumulators R x 4), and of the direct int8 dot, which
// also keeps R x 4 group accumulators (AVX-512: 2 x 8 + 4 + 1 of 32 registers; AVX2: 13 of 16).
constexpr int I8_R = VW >= 16 ? 4 : (VW == 8 ? 2 : 4);
constexpr int I8_RD = VW >= 16 ? 2 : (VW == 8 ? 1 : 2);

DSOCR_INLINE VT ldq(const int8_t* p) { return I8::load(p); }
DSOCR_INLINE VT ldq(const float* p) { return V::load(p); }

// Offset of value k of row 0 inside a panel (add i * KB for row i).
constexpr size_t koff(size_t k) { return (k / I8KB) * I8P * I8KB + k % I8KB; }

// Quantises the rows of x per group of G values to int16 (pack_int8.h QuantX): qx [M][Kp] (zero
// past K), sx [M][ng], xdeq [M][K] = f32(qx * sx) (xdeq may be null).
void quant_rows(const float* x, size_t M, size_t K, size_t G, int16_t* qx, size_t Kp, float* sx, float* xdeq) {
  const size_t ng = int8::groups(K, G);
  for (size_t r = 0; r < M; ++r) {
    const float* xr = x + r * K;
    int16_t* q = qx + r * Kp;
    float* d = xdeq ? xdeq + r * K : nullptr;
    std::memset(q + K, 0, (Kp - K) * sizeof(int16_t));
    for (size_t g = 0; g < ng; ++g) {
      const size_t k0 = g * G, k1 = std::min(K, k0 + G);
      VT mv = V::zero();
      for (size_t k = k0; k < k1; k += VW) {
        const int t = static_cast<int>(std::min<size_t>(VW, k1 - k));
        mv = V::max(mv, V::abs(t == VW ? V::load(xr + k) : V::loadn(xr + k, t)));
      }
      const float scale = static_cast<float>(static_cast<double>(V::hmax(mv)) / 32767.0);
      sx[r * ng + g] = scale;
      if (scale == 0.f) {
        std::memset(q + k0, 0, (k1 - k0) * sizeof(int16_t));
        if (d) std::memset(d + k0, 0, (k1 - k0) * sizeof(float));
        continue;
      }
      const VT sv = V::set1(scale);
      for (size_t k = k0; k < k1; k += VW) {
        const int t = static_cast<int>(std::min<size_t>(VW, k1 - k));
        const VT rv = I8::quant16(V::div(t == VW ? V::load(xr + k) : V::loadn(xr + k, t), sv));
        I8::store16(q + k, rv, t);
        if (!d) continue;
        if (t == VW) {
          V::store(d + k, V::mul(rv, sv));
        } else {
          V::storen(d + k, V::mul(rv, sv), t);
        }
      }
    }
  }
}

// Direct int8 dot, R <= I8_RD rows of x against the 4 rows of one panel, G-value groups:
//   per group g:  gacc[r][i] = sum_{k in g} x[r][k] * f32(q[i][k])          (vector lanes, FMA)
//                 acc[r][i]  = fma(gacc[r][i], s[i][g], acc[r][i])          (broadcast scale)
//   out[r * 4 + i] = hsum(acc[r][i]).
// Full groups take the unrolled loop; a last group cut short by K reads x with masked loads
// (the weights beyond K are zero padding inside the panel).
template <int R, size_t G>
DSOCR_INLINE void panel_dot_q(const float* x, size_t K, const int8_t* panel, const float* sc, size_t ng, float* out) {
  static_assert(G % VW == 0 && (G % I8KB == 0 || I8KB % G == 0), "group shape");
  VT acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) acc[r][i] = V::zero();
  const size_t gfull = K / G;
  for (size_t g = 0; g <= gfull && g < ng; ++g) {
    const size_t k0 = g * G;
    const int8_t* b = panel + koff(k0);  // a group starts at a chunk start or (G = 32) its middle
    const float* xk = x + k0;
    VT gacc[R][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) gacc[r][i] = V::zero();
    if (g < gfull) {
#pragma GCC unroll 128
      for (size_t s = 0; s < G; s += VW) {
        const size_t o = (s / I8KB) * I8P * I8KB + s % I8KB;
        VT wv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) wv[i] = ldq(b + i * I8KB + o);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const VT xv = V::load(xk + r * K + s);
#pragma GCC unroll 4
          for (int i = 0; i < 4; ++i) gacc[r][i] = V::fma(xv, wv[i], gacc[r][i]);
        }
      }
    } else {
      const size_t rest = K - k0;
      for (size_t s = 0; s < rest; s += VW) {
        const int t = static_cast<int>(std::min<size_t>(VW, rest - s));
        const size_t o = (s / I8KB) * I8P * I8KB + s % I8KB;
        VT wv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) wv[i] = ldq(b + i * I8KB + o);  // zero padded, in bounds
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const VT xv = V::loadn(xk + r * K + s, t);
#pragma GCC unroll 4
          for (int i = 0; i < 4; ++i) gacc[r][i] = V::fma(xv, wv[i], gacc[r][i]);
        }
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const VT s = V::set1(sc[i * ng + g]);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r][i] = V::fma(gacc[r][i], s, acc[r][i]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) out[r * 4 + i] = V::hsum(acc[r][i]);
}

// f32 panel dot (a panel dequantised to f32 in the int8 layout, scales applied):
//   out[r * 4 + i] = sum_k x[r * K + k] * panel row i [k]   (r < R, i < 4).
template <int R>
DSOCR_INLINE void panel_dot_f(const float* x, size_t K, const float* panel, float* out) {
  VT acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) acc[r][i] = V::zero();
  const size_t nfull = K / I8KB;
  const float* b = panel;
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

template <size_t G>
void panel_rows_q(int r, const float* x, size_t K, const int8_t* panel, const float* sc, size_t ng, float* out) {
  if (r == 1) {
    panel_dot_q<1, G>(x, K, panel, sc, ng, out);
  } else if constexpr (I8_RD >= 2) {
    panel_dot_q<2, G>(x, K, panel, sc, ng, out);
  }
}

void panel_rows_f(int r, const float* x, size_t K, const float* panel, float* out) {
  switch (r) {
    case 1:
      panel_dot_f<1>(x, K, panel, out);
      break;
    case 2:
      if constexpr (I8_R >= 2) panel_dot_f<2>(x, K, panel, out);
      break;
    case 3:
      if constexpr (I8_R >= 3) panel_dot_f<3>(x, K, panel, out);
      break;
    case 4:
      if constexpr (I8_R >= 4) panel_dot_f<4>(x, K, panel, out);
      break;
  }
}

// One panel dequantised to f32 in the panel layout: dst[koff(k) + i * KB] = q[i][k] * s[i][k / G]
// (k < Kp; the zero padding beyond K stays 0).
void dequant_panel(const int8_t* panel, const float* sc, size_t ng, size_t G, size_t Kp, float* dst) {
  for (size_t c = 0; c < Kp / I8KB; ++c)
    for (size_t i = 0; i < I8P; ++i) {
      const size_t o = c * I8P * I8KB + i * I8KB;
      for (size_t s = 0; s < I8KB; s += VW) {
        const size_t g = std::min(ng - 1, (c * I8KB + s) / G);  // VW divides G: one scale per vector
        V::store(dst + o + s, V::mul(ldq(panel + o + s), V::set1(sc[i * ng + g])));
      }
    }
}

#if DSOCR_X86
#define DSOCR_I8DOT_TARGET "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c"
// AVX512_VNNI, M <= 16 (decode): for R rows of int16 x (qx stride Kp, scales sx stride ng) and the
// 4 rows of one panel,
//   out[r * 4 + i] = sum_g sx[r][g] s[i][g] sum_{k in g} qx[r][k] q[i][k].
// Per 32 values the panel row is sign-extended to int16 (vpmovsxbw) and vpdpwssd sums the pair
// products into int32 lanes (exact: |sum| <= 128 * 127 * 32767 < 2^31); per group the lanes are
// converted to f32 and folded into the totals by one FMA with the scale product (hsum at the end).
// Groups past K are zero padding.
template <int R>
__attribute__((noinline, unused, target(DSOCR_I8DOT_TARGET))) void panel_dot_vnni(const int16_t* qx, size_t Kp,
                                                                                 const float* sx,
                                                                                 const int8_t* panel,
                                                                                 const float* sc, size_t ng,
                                                                                 size_t G, float* out) {
  __m512 acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) acc[r][i] = _mm512_setzero_ps();
  for (size_t g = 0; g < ng; ++g) {
    const size_t k1 = std::min(Kp, (g + 1) * G);
    __m512i ga[R][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) ga[r][i] = _mm512_setzero_si512();
    for (size_t k = g * G; k < k1; k += 32) {
      __m512i wv[4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i)
        wv[i] = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + koff(k) + i * I8KB)));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m512i xv = _mm512_loadu_si512(qx + r * Kp + k);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) ga[r][i] = _mm512_dpwssd_epi32(ga[r][i], xv, wv[i]);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const float si = sc[i * ng + g];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        acc[r][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ga[r][i]), _mm512_set1_ps(si * sx[r * ng + g]), acc[r][i]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) out[r * 4 + i] = _mm512_reduce_add_ps(acc[r][i]);
}
#undef DSOCR_I8DOT_TARGET
#endif

// Single-threaded: y[i * ldy + (n - n0)] = sum_g s[n][g] sx[i][g] (qx[i] . q[n] over group g)
// (+ bias[n]) for n in [n0, n1) (n0 a multiple of P). With `dot` (AVX512_VNNI), every M alike on
// vpdpwssd (panel_dot_vnni: batched decode gives a sequence exactly its own decode). Otherwise the
// f32 kernels over the dequantised rows x.deq: M <= I8_RD the direct int8 dot; larger M: each panel
// is first dequantised (scales applied) into a per-thread f32 scratch (4 * Kp floats, in L1/L2)
// and reused by every block of I8_R rows of x.
template <size_t G>
void i8_rows_g(const QuantX& xq, const Packed& w, size_t n0, size_t n1, const float* bias, float* y, size_t ldy,
               [[maybe_unused]] bool dot) {
  const size_t M = xq.m, K = w.cols, Kp = int8::padded_k(K), ng = int8::groups(K, G);
  const int8_t* q = static_cast<const int8_t*>(w.data);
#if DSOCR_X86
  if constexpr (VW == 16) {
    if (dot) {
      constexpr int RD = 3;
      float out[RD * 4];
      for (size_t n = n0; n < n1; n += I8P) {
        const size_t nn = std::min(I8P, n1 - n);
        const float* sc = w.scales + n * ng;
        for (size_t r0 = 0; r0 < M; r0 += RD) {
          const int rr = static_cast<int>(std::min<size_t>(RD, M - r0));
          const int16_t* xr = xq.q + r0 * Kp;
          const float* sr = xq.s + r0 * ng;
          if (rr == 3) {
            panel_dot_vnni<3>(xr, Kp, sr, q + n * Kp, sc, ng, G, out);
          } else if (rr == 2) {
            panel_dot_vnni<2>(xr, Kp, sr, q + n * Kp, sc, ng, G, out);
          } else {
            panel_dot_vnni<1>(xr, Kp, sr, q + n * Kp, sc, ng, G, out);
          }
          for (int r = 0; r < rr; ++r) {
            float* yr = y + (r0 + r) * ldy + (n - n0);
            for (size_t i = 0; i < nn; ++i) yr[i] = bias ? out[r * 4 + i] + bias[n + i] : out[r * 4 + i];
          }
        }
      }
      return;
    }
  }
#endif
  const float* x = xq.deq;
  const bool direct = M <= static_cast<size_t>(I8_RD);
  float* fbuf = direct ? nullptr : pool::scratch_as<float>(3, I8P * Kp);
  const int R = direct ? I8_RD : I8_R;
  float out[I8_R * 4];
  for (size_t n = n0; n < n1; n += I8P) {
    const int8_t* panel = q + n * Kp;
    const size_t nn = std::min(I8P, n1 - n);
    const float* sc = w.scales + n * ng;
    if (fbuf) dequant_panel(panel, sc, ng, G, Kp, fbuf);
    for (size_t r0 = 0; r0 < M; r0 += R) {
      const int rr = static_cast<int>(std::min<size_t>(R, M - r0));
      if (fbuf) {
        panel_rows_f(rr, x + r0 * K, K, fbuf, out);
      } else {
        panel_rows_q<G>(rr, x + r0 * K, K, panel, sc, ng, out);
      }
      for (int r = 0; r < rr; ++r) {
        float* yr = y + (r0 + r) * ldy + (n - n0);
        for (size_t i = 0; i < nn; ++i) yr[i] = bias ? out[r * 4 + i] + bias[n + i] : out[r * 4 + i];
      }
    }
  }
}

void i8_rows(const QuantX& x, const Packed& w, size_t n0, size_t n1, const float* bias, float* y, size_t ldy,
             bool dot) {
  switch (w.group) {
    case 32:
      i8_rows_g<32>(x, w, n0, n1, bias, y, ldy, dot);
      break;
    case 64:
      i8_rows_g<64>(x, w, n0, n1, bias, y, ldy, dot);
      break;
    default:
      i8_rows_g<128>(x, w, n0, n1, bias, y, ldy, dot);
      break;
  }
}

// dst[(n - n0) * K + k] = q[n][k] * s[n][k / G] for n in [n0, n1) (n0 a multiple of P): row-major f32.
void i8_dequant(const Packed& w, size_t n0, size_t n1, float* dst) {
  const size_t K = w.cols, Kp = int8::padded_k(K), G = w.group, ng = int8::groups(K, G);
  const int8_t* q = static_cast<const int8_t*>(w.data);
  for (size_t n = n0; n < n1; ++n) {
    const int8_t* row = q + (n / I8P) * I8P * Kp + (n % I8P) * I8KB;
    const float* sc = w.scales + n * ng;
    float* d = dst + (n - n0) * K;
    size_t k = 0;
    for (; k + VW <= K; k += VW)  // VW divides KB and G: a vector never straddles chunks or groups
      V::store(d + k, V::mul(ldq(row + koff(k)), V::set1(sc[k / G])));
    for (; k < K; ++k) d[k] = static_cast<float>(row[koff(k)]) * sc[k / G];
  }
}

// Quantises panel pi of src (rows 4 pi .. 4 pi + 3; rows >= N are padding): per row and group g
// (values k0 = g G .. k1 = min(K, k0 + G)), exactly as packWeightReference in reference.ts:
//   s[n][g] = f32(max_{k0 <= k < k1} |W[n][k]| / 127)   (the max is an f32 value; divided in f64)
//   q[n][k] = s == 0 ? 0 : clamp(round_half_up(f32(W[n][k] / s)), -127, 127)
// `panel` (4 * Kp bytes) must be zeroed by the caller; `sc` points at row 4 pi's scales.
template <class S>
void pack_panel_t(const S* src, size_t N, size_t K, size_t G, size_t pi, int8_t* panel, float* sc) {
  const size_t ng = int8::groups(K, G);
  for (size_t i = 0; i < I8P; ++i) {
    const size_t n = pi * I8P + i;
    float* srow = sc + i * ng;
    if (n >= N) {
      for (size_t g = 0; g < ng; ++g) srow[g] = 0.f;
      continue;
    }
    const S* w = src + n * K;
    for (size_t g = 0; g < ng; ++g) {
      const size_t k0 = g * G, k1 = std::min(K, k0 + G);
      VT mv = V::zero();
      for (size_t k = k0; k < k1; k += VW) {
        const int t = static_cast<int>(std::min<size_t>(VW, k1 - k));
        mv = V::max(mv, V::abs(t == VW ? loadw(w + k) : loadwn(w + k, t)));
      }
      const float scale = static_cast<float>(static_cast<double>(V::hmax(mv)) / 127.0);
      srow[g] = scale;
      if (scale == 0.f) continue;
      const VT sv = V::set1(scale);
      for (size_t k = k0; k < k1; k += VW) {  // VW divides G and KB: a vector stays in one chunk
        const int t = static_cast<int>(std::min<size_t>(VW, k1 - k));
        I8::quant_store(panel + i * I8KB + koff(k), V::div(t == VW ? loadw(w + k) : loadwn(w + k, t), sv), t);
      }
    }
  }
}

void i8_pack_panel(const WeightRef& src, size_t G, size_t pi, int8_t* panel, float* sc) {
  if (src.bf16) {
    pack_panel_t(static_cast<const uint16_t*>(src.data), src.rows, src.cols, G, pi, panel, sc);
  } else {
    pack_panel_t(static_cast<const float*>(src.data), src.rows, src.cols, G, pi, panel, sc);
  }
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr
