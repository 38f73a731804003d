// int8 -> f32 widening per ISA for the int8 packed kernels (pack_int8-inl.h, moe-inl.h):
// I8Of<V>::load(p) widens V::W consecutive int8 values to one f32 vector of V.
// Each ISA's helper sits in that ISA's target region, like simd.h's vector types.
#pragma once

#include "simd.h"

namespace dsocr::simd {

struct I8Scalar {
  static DSOCR_INLINE float load(const int8_t* p) { return static_cast<float>(*p); }
};

#if DSOCR_X86
DSOCR_BEGIN_AVX2
struct I8Avx2 {
  static DSOCR_INLINE __m256 load(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
};
DSOCR_END_TARGET

DSOCR_BEGIN_AVX512
struct I8Avx512 {
  static DSOCR_INLINE __m512 load(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
};
DSOCR_END_TARGET
#endif

template <class V>
struct I8Of;
template <>
struct I8Of<VScalar> {
  using T = I8Scalar;
};
#if DSOCR_X86
template <>
struct I8Of<VAvx2> {
  using T = I8Avx2;
};
template <>
struct I8Of<VAvx512> {
  using T = I8Avx512;
};
#endif

}  // namespace dsocr::simd
