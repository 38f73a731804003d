// The 32-column register tile of the AVX-512 bf16 kernels, shared by the bf16 GEMM (gemm_bf16-inl.h),
// the decode kernels (gemv_bf16.cc) and the attention's bf16 products (attention-inl.h): the
// vdpbf16ps accumulation (AVX512_BF16 CPUs only) and the masked stores (AVX-512F).
#pragma once

#include "simd.h"

#if DSOCR_X86
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace dsocr::bf16tile {

// r0[i], r1[i] (columns 0..15, 16..31) = sum over kp < kpc of the pair a(kp, i) . b(kp, j) (both
// products of each pair, f32 accumulation in k order), i < R; a(kp, i) = a[kp * lda + i] and
// b(kp, j) = b[kp * ldb + j] are dwords of two bf16. With constant strides (after inlining) the
// loads use immediate offsets.
template <int R>
__attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c"))) inline void
dot_tile(size_t kpc, const uint32_t* a, size_t lda, const uint32_t* b, size_t ldb, __m512* r0, __m512* r1) {
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) r0[i] = r1[i] = _mm512_setzero_ps();
  for (size_t k = 0; k < kpc; ++k) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[i]));
      r0[i] = _mm512_dpbf16_ps(r0[i], av, b0);
      r1[i] = _mm512_dpbf16_ps(r1[i], av, b1);
    }
    a += lda;
    b += ldb;
  }
}

#define DSOCR_TILE_AVX512 "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"

// Masks of the first nv (0..32) of 32 columns: columns 0..15, 16..31.
__attribute__((always_inline, target(DSOCR_TILE_AVX512))) inline __mmask16 lo_mask(int nv) {
  return nv >= 16 ? __mmask16(0xffff) : __mmask16((1u << nv) - 1u);
}
__attribute__((always_inline, target(DSOCR_TILE_AVX512))) inline __mmask16 hi_mask(int nv) {
  return nv <= 16 ? __mmask16(0) : lo_mask(nv - 16);
}

// c[i * ldc + j] (+)= (r0[i] | r1[i])[j] for i < rows (<= R), j < nv (<= 32); `acc` adds to c.
template <int R>
__attribute__((always_inline, target(DSOCR_TILE_AVX512))) inline void store_tile(const __m512* r0, const __m512* r1,
                                                                                 int rows, float* c, size_t ldc,
                                                                                 int nv, bool acc) {
  const __mmask16 m0 = lo_mask(nv), m1 = hi_mask(nv);
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    if (i >= rows) break;
    float* p = c + i * ldc;
    __m512 v0 = r0[i], v1 = r1[i];
    if (nv == 32) {
      if (acc) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(p));
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(p + 16));
      }
      _mm512_storeu_ps(p, v0);
      _mm512_storeu_ps(p + 16, v1);
    } else {
      if (acc) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, p));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, p + 16));
      }
      _mm512_mask_storeu_ps(p, m0, v0);
      _mm512_mask_storeu_ps(p + 16, m1, v1);
    }
  }
}
#undef DSOCR_TILE_AVX512

}  // namespace dsocr::bf16tile
#endif
