// Small-M (decode) kernels over the BF16 packed layout; see gemv_bf16.h.
//
// A task owns a contiguous range of whole panels (panel = 32 weight rows x all of K, KP x 128 B,
// contiguous) and walks P of them side by side: per k-pair it loads 2 zmm of each panel and issues
// 2 x R x P dot products (R rows of x), so 2RP independent accumulator chains hide the dot latency,
// and P sequential streams per thread (plus a software prefetch a few KiB ahead in each) keep enough
// cache-line requests in flight to approach the memory bandwidth with one x row.
#include "gemv_bf16.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "bf16_dot_tile.h"
#include "pack_bf16.h"
#include "pool.h"
#include "simd.h"

#if DSOCR_X86
#include <immintrin.h>

DSOCR_BEGIN_AVX512
namespace dsocr {
namespace gemv_avx512 {
namespace {

constexpr size_t PN = kBf16PanelN;
constexpr size_t PF_DW = 1024;  // prefetch distance: 4 KiB ahead in each panel stream

using bf16tile::hi_mask;
using bf16tile::lo_mask;

DSOCR_INLINE void store2(float* p, __m512 v0, __m512 v1, int nv) {
  if (nv == 32) {
    _mm512_storeu_ps(p, v0);
    _mm512_storeu_ps(p + 16, v1);
  } else {
    _mm512_mask_storeu_ps(p, lo_mask(nv), v0);
    _mm512_mask_storeu_ps(p + 16, hi_mask(nv), v1);
  }
}

// c[r * ldc + p * 32 + j] = sum over kp of the pair products (vdpbf16ps chain, k order), r < R,
// p < P; the last panel stores nv_last columns.
template <int R, int P>
__attribute__((noinline, target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c"))) void mk_dot(
    size_t KP, const uint32_t* a, size_t lda, const uint32_t* b, size_t pstride, float* c, size_t ldc, int nv_last) {
  __m512 acc[P][R][2];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[p][r][0] = acc[p][r][1] = _mm512_setzero_ps();
  for (size_t kp = 0; kp < KP; ++kp) {
    __m512bh b0[P], b1[P];
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const uint32_t* bp = b + p * pstride + kp * PN;
      _mm_prefetch(reinterpret_cast<const char*>(bp + PF_DW), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bp + PF_DW + 16), _MM_HINT_T0);
      b0[p] = (__m512bh)_mm512_load_si512(bp);
      b1[p] = (__m512bh)_mm512_load_si512(bp + 16);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r * lda + kp]));
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) {
        acc[p][r][0] = _mm512_dpbf16_ps(acc[p][r][0], av, b0[p]);
        acc[p][r][1] = _mm512_dpbf16_ps(acc[p][r][1], av, b1[p]);
      }
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) store2(c + r * ldc + p * PN, acc[p][r][0], acc[p][r][1], p == P - 1 ? nv_last : 32);
}

// The same without AVX512_BF16: widen each pair and FMA the even then the odd product (as uk_widen).
template <int R, int P>
__attribute__((noinline)) void mk_widen(size_t KP, const uint32_t* a, size_t lda, const uint32_t* b, size_t pstride,
                                        float* c, size_t ldc, int nv_last) {
  __m512 acc[P][R][2];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[p][r][0] = acc[p][r][1] = _mm512_setzero_ps();
  for (size_t kp = 0; kp < KP; ++kp) {
    __m512 b0e[P], b0o[P], b1e[P], b1o[P];
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const uint32_t* bp = b + p * pstride + kp * PN;
      _mm_prefetch(reinterpret_cast<const char*>(bp + PF_DW), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bp + PF_DW + 16), _MM_HINT_T0);
      simd::VAvx512::widen_pairs(_mm512_load_si512(bp), b0e[p], b0o[p]);
      simd::VAvx512::widen_pairs(_mm512_load_si512(bp + 16), b1e[p], b1o[p]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __m512 ae, ao;
      simd::VAvx512::widen_pairs(_mm512_set1_epi32(static_cast<int>(a[r * lda + kp])), ae, ao);
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) {
        acc[p][r][0] = _mm512_fmadd_ps(ae, b0e[p], acc[p][r][0]);
        acc[p][r][1] = _mm512_fmadd_ps(ae, b1e[p], acc[p][r][1]);
        acc[p][r][0] = _mm512_fmadd_ps(ao, b0o[p], acc[p][r][0]);
        acc[p][r][1] = _mm512_fmadd_ps(ao, b1o[p], acc[p][r][1]);
      }
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) store2(c + r * ldc + p * PN, acc[p][r][0], acc[p][r][1], p == P - 1 ? nv_last : 32);
}

using Mk = void (*)(size_t, const uint32_t*, size_t, const uint32_t*, size_t, float*, size_t, int);

// Panels walked side by side for R rows: at most 16 accumulators.
constexpr int max_p(int r) { return r <= 2 ? 4 : (r <= 4 ? 2 : 1); }
constexpr int RMAX = 8;

template <bool DOT, int R, int P>
constexpr Mk pick() {
  if constexpr (DOT) {
    return &mk_dot<R, P>;
  } else {
    return &mk_widen<R, P>;
  }
}

template <bool DOT, int R>
Mk kernel_p(int p) {
  switch (p) {
    case 1:
      return pick<DOT, R, 1>();
    case 2:
      if constexpr (max_p(R) >= 2) return pick<DOT, R, 2>();
      break;
    case 3:
      if constexpr (max_p(R) >= 3) return pick<DOT, R, 3>();
      break;
    case 4:
      if constexpr (max_p(R) >= 4) return pick<DOT, R, 4>();
      break;
  }
  return nullptr;
}

template <bool DOT>
Mk kernel(int r, int p) {
  switch (r) {
    case 1: return kernel_p<DOT, 1>(p);
    case 2: return kernel_p<DOT, 2>(p);
    case 3: return kernel_p<DOT, 3>(p);
    case 4: return kernel_p<DOT, 4>(p);
    case 5: return kernel_p<DOT, 5>(p);
    case 6: return kernel_p<DOT, 6>(p);
    case 7: return kernel_p<DOT, 7>(p);
    default: return kernel_p<DOT, 8>(p);
  }
}

DSOCR_INLINE uint32_t rne(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

}  // namespace

void round_rows(const float* x, size_t m, size_t K, uint32_t* a) {
  const size_t KP = (K + 1) / 2;
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), qnan = _mm512_set1_epi32(0x40);
  for (size_t i = 0; i < m; ++i) {
    const float* src = x + i * K;
    char* dst = reinterpret_cast<char*>(a + i * KP);
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {
      __m512i u = _mm512_loadu_si512(src + k);
      __m512i h = _mm512_srli_epi32(u, 16);
      __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(h, one)), 16);
      __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
      r = _mm512_mask_or_epi32(r, nan, h, qnan);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * k), _mm512_cvtepi32_epi16(r));
    }
    for (; k < K; ++k) {
      const uint16_t v = static_cast<uint16_t>(rne(src[k]));
      std::memcpy(dst + 2 * k, &v, 2);
    }
    if (K & 1) std::memset(dst + 2 * K, 0, 2);
  }
}

void rows(const uint32_t* a, size_t m, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy, bool dot) {
  const size_t KP = (w.cols + 1) / 2, pstride = KP * PN;
  const uint32_t* B = static_cast<const uint32_t*>(w.data);
  const size_t p0 = n0 / PN, p1 = (n1 + PN - 1) / PN;
  for (size_t r0 = 0; r0 < m; r0 += RMAX) {
    const int rr = static_cast<int>(std::min<size_t>(RMAX, m - r0));
    const int pm = max_p(rr);
    for (size_t p = p0; p < p1;) {
      const int np = static_cast<int>(std::min<size_t>(pm, p1 - p));
      const int nv = static_cast<int>(std::min<size_t>(PN, n1 - (p + np - 1) * PN));
      const Mk f = dot ? kernel<true>(rr, np) : kernel<false>(rr, np);
      f(KP, a + r0 * KP, KP, B + p * pstride, pstride, y + r0 * ldy + (p * PN - n0), ldy, nv);
      p += np;
    }
  }
}

}  // namespace gemv_avx512
}  // namespace dsocr
DSOCR_END_TARGET

// AVX2 + FMA (no bf16 instructions): the panel's 32 columns as two halves of 16 (one cache line
// per k-pair each); per k-pair a half is two ymm of pairs widened to even and odd f32 vectors, and
// every row of x issues four FMAs (even then odd product per column, as the GEMM's uk_half, so the
// result is bit-identical to linear_bf16's AVX2 GEMM path). 16 ymm registers: R x NB x 2
// accumulators <= 8 (R = 1: 4 halves = 2 panels side by side; R = 2: 2 halves; R = 3, 4: 1).
DSOCR_BEGIN_AVX2
namespace dsocr {
namespace gemv_avx2 {
namespace {

using W = simd::VAvx2;
constexpr size_t PN = kBf16PanelN;
constexpr size_t PF_DW = 1024;  // prefetch distance: 4 KiB ahead in each half-panel stream

// c[r * ldc + 16 h + j] = sum over kp in [k0, k1) of the pair products (k order), r < R, halves
// h0 .. h0 + NB of the task (half h: panel h / 2, columns 16 (h % 2) ..); the last half stores
// nv_last columns. `carry`: the sums continue from the values in c (a chunk after the first).
template <int R, int NB>
__attribute__((noinline)) void mk(size_t k0, size_t k1, bool carry, const uint32_t* a, size_t lda, const uint32_t* b,
                                  size_t pstride, size_t h0, float* c, size_t ldc, int nv_last) {
  __m256 acc[R][NB][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int h = 0; h < NB; ++h) {
      if (!carry) {
        acc[r][h][0] = acc[r][h][1] = _mm256_setzero_ps();
        continue;
      }
      const float* p = c + r * ldc + 16 * h;
      alignas(32) float t[16] = {};
      const int nv = h == NB - 1 ? nv_last : 16;
      for (int j = 0; j < nv; ++j) t[j] = p[j];
      acc[r][h][0] = _mm256_load_ps(t);
      acc[r][h][1] = _mm256_load_ps(t + 8);
    }
  const uint32_t* bh[NB];
#pragma GCC unroll 4
  for (int h = 0; h < NB; ++h) bh[h] = b + ((h0 + h) / 2) * pstride + ((h0 + h) % 2) * 16;
  for (size_t kp = k0; kp < k1; ++kp) {
#pragma GCC unroll 4
    for (int h = 0; h < NB; ++h) {
      const uint32_t* bp = bh[h] + kp * PN;
      _mm_prefetch(reinterpret_cast<const char*>(bp + PF_DW), _MM_HINT_T0);
      __m256 e0, o0, e1, o1;
      W::widen_pairs(_mm256_load_si256(reinterpret_cast<const __m256i*>(bp)), e0, o0);
      W::widen_pairs(_mm256_load_si256(reinterpret_cast<const __m256i*>(bp + 8)), e1, o1);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        __m256 ae, ao;
        W::widen_pairs(_mm256_set1_epi32(static_cast<int>(a[r * lda + kp])), ae, ao);
        acc[r][h][0] = _mm256_fmadd_ps(ae, e0, acc[r][h][0]);
        acc[r][h][1] = _mm256_fmadd_ps(ae, e1, acc[r][h][1]);
        acc[r][h][0] = _mm256_fmadd_ps(ao, o0, acc[r][h][0]);
        acc[r][h][1] = _mm256_fmadd_ps(ao, o1, acc[r][h][1]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int h = 0; h < NB; ++h) {
      float* p = c + r * ldc + 16 * h;
      const int nv = h == NB - 1 ? nv_last : 16;
      if (nv == 16) {
        _mm256_storeu_ps(p, acc[r][h][0]);
        _mm256_storeu_ps(p + 8, acc[r][h][1]);
      } else {
        alignas(32) float t[16];
        _mm256_store_ps(t, acc[r][h][0]);
        _mm256_store_ps(t + 8, acc[r][h][1]);
        for (int j = 0; j < nv; ++j) p[j] = t[j];
      }
    }
}

using Mk = void (*)(size_t, size_t, bool, const uint32_t*, size_t, const uint32_t*, size_t, size_t, float*, size_t, int);

constexpr int RMAX = 4;
constexpr int max_nb(int r) { return r == 1 ? 4 : (r == 2 ? 2 : 1); }

template <int R>
Mk kernel_nb(int nb) {
  switch (nb) {
    case 1:
      return &mk<R, 1>;
    case 2:
      if constexpr (max_nb(R) >= 2) return &mk<R, 2>;
      break;
    case 3:
      if constexpr (max_nb(R) >= 3) return &mk<R, 3>;
      break;
    case 4:
      if constexpr (max_nb(R) >= 4) return &mk<R, 4>;
      break;
  }
  return nullptr;
}

Mk kernel(int r, int nb) {
  switch (r) {
    case 1: return kernel_nb<1>(nb);
    case 2: return kernel_nb<2>(nb);
    case 3: return kernel_nb<3>(nb);
    default: return kernel_nb<4>(nb);
  }
}

}  // namespace

void rows(const uint32_t* a, size_t m, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy) {
  const size_t KP = (w.cols + 1) / 2, pstride = KP * PN;
  const uint32_t* B = static_cast<const uint32_t*>(w.data);
  const size_t h0 = n0 / 16, h1 = (n1 + 15) / 16;  // n0 is a multiple of the panel width
  if (m <= static_cast<size_t>(RMAX)) {
    const int rr = static_cast<int>(m), nm = max_nb(rr);
    for (size_t h = h0; h < h1;) {
      const int nb = static_cast<int>(std::min<size_t>(nm, h1 - h));
      const int nv = static_cast<int>(std::min<size_t>(16, n1 - (h + nb - 1) * 16));
      kernel(rr, nb)(0, KP, false, a, KP, B, pstride, h, y + (h * 16 - n0), ldy, nv);
      h += nb;
    }
    return;
  }
  // More rows than one pass holds: per half, chunks of KC k-pairs (16 KiB of weights, in L1) run
  // for every group of RMAX rows before the next chunk, so the weights come from memory once;
  // the sums carry over from chunk to chunk in k order (same values as one pass).
  constexpr size_t KC = 256;
  for (size_t h = h0; h < h1; ++h) {
    const int nv = static_cast<int>(std::min<size_t>(16, n1 - h * 16));
    for (size_t k0 = 0; k0 < KP; k0 += KC) {
      const size_t k1 = std::min(KP, k0 + KC);
      for (size_t r0 = 0; r0 < m; r0 += RMAX) {
        const int rr = static_cast<int>(std::min<size_t>(RMAX, m - r0));
        kernel(rr, 1)(k0, k1, k0 > 0, a + r0 * KP, KP, B, pstride, h, y + r0 * ldy + (h * 16 - n0), ldy, nv);
      }
    }
  }
}

}  // namespace gemv_avx2
}  // namespace dsocr
DSOCR_END_TARGET
#endif

namespace dsocr {

bool bf16_small_available(Isa isa) {
#if DSOCR_X86
  return isa == Isa::Avx512 || isa == Isa::Avx2;
#else
  (void)isa;
  return false;
#endif
}

void bf16_round_rows(Isa isa, const float* x, size_t m, size_t K, uint32_t* a) {
#if DSOCR_X86
  if (isa == Isa::Avx512) return gemv_avx512::round_rows(x, m, K, a);
#endif
  (void)isa;
  const size_t KP = (K + 1) / 2;
  for (size_t i = 0; i < m; ++i)
    for (size_t kp = 0; kp < KP; ++kp) {
      auto r = [](float f) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
        return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
      };
      const uint32_t lo = r(x[i * K + 2 * kp]), hi = 2 * kp + 1 < K ? r(x[i * K + 2 * kp + 1]) : 0;
      a[i * KP + kp] = lo | (hi << 16);
    }
}

void bf16_rows(Isa isa, const uint32_t* a, size_t m, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy) {
#if DSOCR_X86
  if (isa == Isa::Avx512) return gemv_avx512::rows(a, m, w, n0, n1, y, ldy, bf16_dot_enabled());
  if (isa == Isa::Avx2) return gemv_avx2::rows(a, m, w, n0, n1, y, ldy);
#endif
  (void)isa, (void)a, (void)m, (void)w, (void)n0, (void)n1, (void)y, (void)ldy;
}

bool linear_bf16_small(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y) {
  if (!bf16_small_available(isa) || m == 0 || m > kBf16SmallM || w.cols == 0 || w.rows == 0) return false;
  const size_t N = w.rows, K = w.cols, KP = (K + 1) / 2, npan = (N + kBf16PanelN - 1) / kBf16PanelN;
  thread_local std::vector<uint32_t> abuf;
  if (abuf.size() < m * KP) abuf.resize(m * KP);
  const uint32_t* A = abuf.data();
  bf16_round_rows(isa, x, m, K, abuf.data());
  // Tasks of whole panels (a multiple of 4 when there are enough): ~8 per thread, <= 16 panels each.
  const size_t th = static_cast<size_t>(pool::threads());
  size_t per = std::clamp<size_t>(npan / (8 * th), 1, 16);
  if (per > 4) per = per / 4 * 4;
  const size_t nt = (npan + per - 1) / per;
  pool::parallel_for(nt, [&](size_t t) {
    const size_t n0 = t * per * kBf16PanelN, n1 = std::min(N, (t + 1) * per * kBf16PanelN);
    bf16_rows(isa, A, m, w, n0, n1, y + n0, N);
    if (bias)
      for (size_t i = 0; i < m; ++i)
        for (size_t n = n0; n < n1; ++n) y[i * N + n] += bias[n];
  });
  return true;
}

}  // namespace dsocr
