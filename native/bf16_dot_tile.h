// The vdpbf16ps register tile shared by the bf16 GEMM (gemm_bf16-inl.h uk_dot) and the attention's
// bf16 products (attention-inl.h uk_pairs). AVX512_BF16 only: callers run it on CPUs that have it.
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

}  // namespace dsocr::bf16tile
#endif
