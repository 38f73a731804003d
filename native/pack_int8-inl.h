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
// y[r][n] = sum_g s[n][g] sx[r][g] sum_{k in g} qx[r][k] q[n][k]. Decode sums the integer products
// exactly (panel_dot_vnni on vpdpwssd with AVX512_VNNI, panel_dot_int below otherwise); prefill
// runs them on vpdpwssd too (gemm_int8.cc), or, without VNNI, the f32 GEMM over the dequantised
// rows f32(qx * sx) and weight.
#include "gemm-inl.h"

namespace dsocr {
namespace DSOCR_NS {
namespace {

using I8 = typename simd::I8Of<V>::T;
constexpr size_t I8P = int8::P;
constexpr size_t I8KB = int8::KB;

DSOCR_INLINE VT ldq(const int8_t* p) { return I8::load(p); }

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
      VT mv = V::zero(), nz = V::zero();  // nz: sum of x * 0, NaN iff the group holds a NaN or an inf
      for (size_t k = k0; k < k1; k += VW) {
        const int t = static_cast<int>(std::min<size_t>(VW, k1 - k));
        const VT xv = t == VW ? V::load(xr + k) : V::loadn(xr + k, t);
        mv = V::max(mv, V::abs(xv));
        nz = V::fma(xv, V::zero(), nz);
      }
      float scale = static_cast<float>(static_cast<double>(V::hmax(mv)) / 32767.0);
      if (V::hsum(nz) != 0.f) scale = std::numeric_limits<float>::infinity();
      if (scale == 0.f || !std::isfinite(scale)) {  // zeros; or a NaN / inf in the group: NaN results
        if (scale != 0.f) scale = std::numeric_limits<float>::quiet_NaN();
        sx[r * ng + g] = scale;
        std::memset(q + k0, 0, (k1 - k0) * sizeof(int16_t));
        if (d) std::fill(d + k0, d + k1, scale);
        continue;
      }
      sx[r * ng + g] = scale;
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

// Decode kernel of every level without AVX512_VNNI: one row of int16 x (qx, scales sx) against
// the 4 rows of one panel, with exact int32 group sums,
//   out[i] = sum_g sx[g] s[i][g] sum_{k in g} qx[k] q[i][k].
// AVX2 (and AVX-512 without VNNI): per 16 values the panel row sign-extended to int16 (vpmovsxbw),
// vpmaddwd with x into 8 int32 lanes (|lane| <= 8 * 2 * 127 * 32767 < 2^31 per group of 128);
// per group the lanes to f32 and one FMA with the scale product; hsum at the end. Scalar: the
// same sums one product at a time. The rows of a batch each take the same path, so a batched row
// is exactly its own decode.
void panel_dot_int(const int16_t* qx, const float* sx, const int8_t* panel, const float* sc, size_t ng, size_t G,
                   size_t Kp, float* out) {
#if DSOCR_X86
  if constexpr (VW >= 8) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) acc[i] = _mm256_setzero_ps();
    for (size_t g = 0; g < ng; ++g) {
      const size_t k1 = std::min(Kp, (g + 1) * G);
      __m256i ga[4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) ga[i] = _mm256_setzero_si256();
      for (size_t k = g * G; k < k1; k += 16) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qx + k));
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          const __m256i wv =
              _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(panel + koff(k) + i * I8KB)));
          ga[i] = _mm256_add_epi32(ga[i], _mm256_madd_epi16(xv, wv));
        }
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i)
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ga[i]), _mm256_set1_ps(sc[i * ng + g] * sx[g]), acc[i]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) out[i] = simd::VAvx2::hsum(acc[i]);
    return;
  }
#endif
  for (int i = 0; i < 4; ++i) {
    float acc = 0.f;
    for (size_t g = 0; g < ng; ++g) {
      const size_t k1 = std::min(Kp, (g + 1) * G);
      int32_t sum = 0;
      for (size_t k = g * G; k < k1; ++k) sum += int32_t{qx[k]} * int32_t{panel[koff(k) + i * I8KB]};
      acc = std::fma(static_cast<float>(sum), sc[i * ng + g] * sx[g], acc);
    }
    out[i] = acc;
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
// (+ bias[n]) for n in [n0, n1) (n0 a multiple of P). With `dot` (AVX512_VNNI) on vpdpwssd
// (panel_dot_vnni), otherwise panel_dot_int, row by row; every M alike either way, so batched
// decode gives a sequence exactly its own decode.
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
  float out[4];
  for (size_t n = n0; n < n1; n += I8P) {
    const size_t nn = std::min(I8P, n1 - n);
    const float* sc = w.scales + n * ng;
    for (size_t r = 0; r < M; ++r) {
      panel_dot_int(xq.q + r * Kp, xq.s + r * ng, q + n * Kp, sc, ng, G, Kp, out);
      float* yr = y + r * ldy + (n - n0);
      for (size_t i = 0; i < nn; ++i) yr[i] = bias ? out[i] + bias[n + i] : out[i];
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
