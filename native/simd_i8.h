// int8 <-> f32 per ISA for the int8 packed kernels (pack_int8-inl.h, moe-inl.h):
//   I8Of<V>::load(p): widens V::W consecutive int8 values to one f32 vector of V.
//   I8Of<V>::quant_store(p, v, n): stores the first n (<= V::W) lanes of v as int8, each lane
//     rounded half up (floor(v) + (v - floor(v) >= 0.5), i.e. JavaScript's Math.round) and
//     clamped to [-127, 127].
//   I8Of<V>::round_clamp(v, lim): each lane rounded half up and clamped to [-lim, lim] (as f32);
//   I8Of<V>::quant16(v): each lane rounded half up (as quant_store) and clamped to [-32767, 32767],
//     as f32 (an integer value); I8Of<V>::store16(p, r, n): the first n lanes of such a vector as
//     int16 (exact).
// Each ISA's helper sits in that ISA's target region, like simd.h's vector types.
#pragma once

#include "simd.h"

namespace dsocr::simd {

struct I8Scalar {
  static DSOCR_INLINE float load(const int8_t* p) { return static_cast<float>(*p); }
  static DSOCR_INLINE float round_clamp(float v, float lim) {
    const float f = std::floor(v);
    return std::min(lim, std::max(-lim, v - f >= 0.5f ? f + 1.f : f));
  }
  static DSOCR_INLINE void quant_store(int8_t* p, float v, int n) {
    if (n > 0) *p = static_cast<int8_t>(round_clamp(v, 127.f));
  }
  static DSOCR_INLINE float quant16(float v) { return round_clamp(v, 32767.f); }
  static DSOCR_INLINE void store16(int16_t* p, float r, int n) {
    if (n > 0) *p = static_cast<int16_t>(r);
  }
};

#if DSOCR_X86
DSOCR_BEGIN_AVX2
struct I8Avx2 {
  static DSOCR_INLINE __m256 load(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static DSOCR_INLINE __m256 round_clamp(__m256 v, float lim) {
    const __m256 f = _mm256_floor_ps(v);
    const __m256 up = _mm256_cmp_ps(_mm256_sub_ps(v, f), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 r = _mm256_add_ps(f, _mm256_and_ps(up, _mm256_set1_ps(1.f)));
    return _mm256_min_ps(_mm256_set1_ps(lim), _mm256_max_ps(_mm256_set1_ps(-lim), r));
  }
  // The 8 lanes of v (integers in range) saturated to int16 (packed in the low half of a __m128i).
  static DSOCR_INLINE __m128i to_i16(__m256 v) {
    const __m256i i = _mm256_cvtps_epi32(v);  // exact: an integer
    return _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
  }
  // The first min(n, 8) elements of type T at the start of v, to p.
  template <class T>
  static DSOCR_INLINE void store_lanes(T* p, __m128i v, int n) {
    alignas(16) T tmp[16 / sizeof(T)];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), v);
    std::memcpy(p, tmp, static_cast<size_t>(std::min(n, 8)) * sizeof(T));
  }
  static DSOCR_INLINE void quant_store(int8_t* p, __m256 v, int n) {
    const __m128i w = to_i16(round_clamp(v, 127.f));
    store_lanes(p, _mm_packs_epi16(w, w), n);
  }
  static DSOCR_INLINE __m256 quant16(__m256 v) { return round_clamp(v, 32767.f); }
  static DSOCR_INLINE void store16(int16_t* p, __m256 r, int n) { store_lanes(p, to_i16(r), n); }
};
DSOCR_END_TARGET

DSOCR_BEGIN_AVX512
struct I8Avx512 {
  static DSOCR_INLINE __m512 load(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static DSOCR_INLINE __m512 round_clamp(__m512 v, float lim) {
    const __m512 f = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(v, f), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 r = _mm512_mask_add_ps(f, up, f, _mm512_set1_ps(1.f));
    return _mm512_min_ps(_mm512_set1_ps(lim), _mm512_max_ps(_mm512_set1_ps(-lim), r));
  }
  static DSOCR_INLINE void quant_store(int8_t* p, __m512 v, int n) {
    const __m512i i = _mm512_cvtps_epi32(round_clamp(v, 127.f));  // exact: an integer
    _mm512_mask_cvtepi32_storeu_epi8(p, static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u), i);
  }
  static DSOCR_INLINE __m512 quant16(__m512 v) { return round_clamp(v, 32767.f); }
  static DSOCR_INLINE void store16(int16_t* p, __m512 r, int n) {
    _mm512_mask_cvtepi32_storeu_epi16(p, static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u),
                                      _mm512_cvtps_epi32(r));
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
