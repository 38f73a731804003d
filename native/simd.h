// Thin SIMD abstraction. Every kernel is written once, against a vector type `V`, in a
// "-inl.h" file that isa_foreach.h includes once per ISA (scalar, AVX2+FMA, AVX-512), each
// time inside a `#pragma GCC target` region (= a function-level target attribute on every
// function defined there, lambdas and templates included) and in its own namespace. So one
// binary carries all levels and cpu.cc picks one at run time; no -march flags are used.
//
// V provides (T = the register type, W = lanes):
//   zero, set1, load, store, loadn/storen (first n < W lanes, the rest untouched / zero),
//   load_bf16 / loadn_bf16 (widen bf16 bit patterns: f32 bits = bits << 16),
//   add, sub, mul, div, fma(a, b, c) = a*b + c, max, min, abs,
//   lt_select(a, b, x, y) = a < b ? x : y (per lane), ge0_select(a, x, y) = a >= 0 ? x : y,
//   hsum, hmax (horizontal), lane0 (first lane), exp (f32, ~1-2 ulp; 0 below -87.3).
// Plus the GEMM micro-tile geometry: MR rows x NRV vectors.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define DSOCR_X86 1
// GCC 12 reports false "may be used uninitialized" warnings from the _mm512_undefined_*()
// inside AVX-512 intrinsics (GCC PR 105593); silence them for the intrinsic headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#define DSOCR_X86 0
#endif

#define DSOCR_INLINE inline __attribute__((always_inline))

#if defined(__clang__)
// (clang is not the tested compiler; the attribute form below is its equivalent.)
#define DSOCR_BEGIN_AVX2 \
  _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c\"))), apply_to = function)")
#define DSOCR_BEGIN_AVX512                                                                              \
  _Pragma(                                                                                           \
      "clang attribute push(__attribute__((target(\"avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c\"))), " \
      "apply_to = function)")
#define DSOCR_BEGIN_AVX512BF16                                                                                     \
  _Pragma(                                                                                                        \
      "clang attribute push(__attribute__((target(\"avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c\"))), " \
      "apply_to = function)")
#define DSOCR_BEGIN_AVX512VNNI                                                                                     \
  _Pragma(                                                                                                        \
      "clang attribute push(__attribute__((target(\"avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c\"))), " \
      "apply_to = function)")
#define DSOCR_END_TARGET _Pragma("clang attribute pop")
#else
#define DSOCR_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c\")")
#define DSOCR_BEGIN_AVX512 \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c\")")
#define DSOCR_BEGIN_AVX512BF16 \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c\")")
#define DSOCR_BEGIN_AVX512VNNI \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c\")")
#define DSOCR_END_TARGET _Pragma("GCC pop_options")
#endif

namespace dsocr::simd {

DSOCR_INLINE float bf16_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Portable scalar "vector" of one lane. Transcendentals go through double (like reference.ts).
struct VScalar {
  using T = float;
  static constexpr int W = 1;
  static constexpr int MR = 4;   // GEMM micro-tile rows
  static constexpr bool TR16 = false;
  static constexpr int NRV = 4;  // GEMM micro-tile vectors per row (NR = 4 floats)
  static DSOCR_INLINE T zero() { return 0.f; }
  static DSOCR_INLINE T set1(float v) { return v; }
  static DSOCR_INLINE T load(const float* p) { return *p; }
  static DSOCR_INLINE void store(float* p, T v) { *p = v; }
  static DSOCR_INLINE T loadn(const float* p, int n) { return n > 0 ? *p : 0.f; }
  static DSOCR_INLINE void storen(float* p, T v, int n) {
    if (n > 0) *p = v;
  }
  static DSOCR_INLINE T load_bf16(const uint16_t* p) { return bf16_to_f32(*p); }
  static DSOCR_INLINE T loadn_bf16(const uint16_t* p, int n) { return n > 0 ? bf16_to_f32(*p) : 0.f; }
  static DSOCR_INLINE T add(T a, T b) { return a + b; }
  static DSOCR_INLINE T sub(T a, T b) { return a - b; }
  static DSOCR_INLINE T mul(T a, T b) { return a * b; }
  static DSOCR_INLINE T div(T a, T b) { return a / b; }
  static DSOCR_INLINE T fma(T a, T b, T c) { return a * b + c; }
  static DSOCR_INLINE T max(T a, T b) { return a > b ? a : b; }
  static DSOCR_INLINE T min(T a, T b) { return a < b ? a : b; }
  static DSOCR_INLINE T abs(T a) { return std::fabs(a); }
  static DSOCR_INLINE T lt_select(T a, T b, T x, T y) { return a < b ? x : y; }
  static DSOCR_INLINE T ge0_select(T a, T x, T y) { return a >= 0.f ? x : y; }
  static DSOCR_INLINE float hsum(T a) { return a; }
  static DSOCR_INLINE float lane0(T a) { return a; }
  static DSOCR_INLINE float hmax(T a) { return a; }
  static DSOCR_INLINE T exp(T a) { return static_cast<float>(std::exp(static_cast<double>(a))); }
};

#if DSOCR_X86

alignas(64) static const int32_t kTailMask[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                  -1, -1, -1, -1, -1, 0,  0,  0,  0,  0,  0,
                                                  0,  0,  0,  0,  0,  0,  0,  0,  0,  0};

// Cephes-style expf constants.
#define DSOCR_EXP_CONSTS                                                              \
  constexpr float kLog2e = 1.44269504088896341f, kC1 = 0.693359375f, kC2 = -2.12194440e-4f; \
  constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f;   \
  constexpr float kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

// ---------------------------------------------------------------------------------------------
DSOCR_BEGIN_AVX2
struct VAvx2 {
  using T = __m256;
  static constexpr int W = 8;
  static constexpr int MR = 6;
  static constexpr bool TR16 = false;
  static constexpr int NRV = 2;  // 6 x 16 micro-tile: 12 accumulators
  static DSOCR_INLINE T zero() { return _mm256_setzero_ps(); }
  static DSOCR_INLINE T set1(float v) { return _mm256_set1_ps(v); }
  static DSOCR_INLINE T load(const float* p) { return _mm256_loadu_ps(p); }
  static DSOCR_INLINE void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static DSOCR_INLINE __m256i mask(int n) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailMask + 16 - n));
  }
  static DSOCR_INLINE T loadn(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static DSOCR_INLINE void storen(float* p, T v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  // bf16 pairs (dword = lo | hi << 16) widened exactly to f32: even = lo, odd = hi.
  static DSOCR_INLINE void widen_pairs(__m256i v, T& even, T& odd) {
    even = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    odd = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static DSOCR_INLINE T load_bf16(const uint16_t* p) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static DSOCR_INLINE T loadn_bf16(const uint16_t* p, int n) {
    alignas(16) uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < n; ++i) tmp[i] = p[i];
    return load_bf16(tmp);
  }
  static DSOCR_INLINE T add(T a, T b) { return _mm256_add_ps(a, b); }
  static DSOCR_INLINE T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static DSOCR_INLINE T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static DSOCR_INLINE T div(T a, T b) { return _mm256_div_ps(a, b); }
  static DSOCR_INLINE T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static DSOCR_INLINE T max(T a, T b) { return _mm256_max_ps(a, b); }
  static DSOCR_INLINE T min(T a, T b) { return _mm256_min_ps(a, b); }
  static DSOCR_INLINE T abs(T a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), a); }
  static DSOCR_INLINE T lt_select(T a, T b, T x, T y) {
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
  }
  static DSOCR_INLINE T ge0_select(T a, T x, T y) {
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GE_OQ));
  }
  static DSOCR_INLINE float lane0(T a) { return _mm256_cvtss_f32(a); }
  static DSOCR_INLINE float hsum(T a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static DSOCR_INLINE float hmax(T a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static DSOCR_INLINE T exp(T x) {
    DSOCR_EXP_CONSTS
    const T lo = _mm256_set1_ps(-87.33654f);
    T xc = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.72283f));
    T fx = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    T r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(kC1), xc);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(kC2), r);
    T y = _mm256_set1_ps(kP0);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kP1));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kP2));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kP3));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kP4));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kP5));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
    // 2^fx; fx in [-126, 128]: split in two factors so 2^128 (x near 88.72) stays finite-correct.
    __m256i n = _mm256_cvtps_epi32(fx);
    __m256i n1 = _mm256_srai_epi32(n, 1);
    __m256i n2 = _mm256_sub_epi32(n, n1);
    T p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    T p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    T res = _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
    res = _mm256_blendv_ps(res, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
    // +inf above the range, NaN stays NaN.
    res = _mm256_blendv_ps(res, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(88.72283f), _CMP_GT_OQ));
    return _mm256_blendv_ps(res, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
};
DSOCR_END_TARGET

// ---------------------------------------------------------------------------------------------
DSOCR_BEGIN_AVX512
struct VAvx512 {
  using T = __m512;
  static constexpr int W = 16;
  static constexpr int MR = 12;
  static constexpr int NRV = 2;  // 12 x 32 micro-tile: 24 accumulators
  static constexpr bool TR16 = true;  // has transpose16
  // In-register 16 x 16 transpose: r[i][j] becomes r[j][i] (exact, data movement only).
  static DSOCR_INLINE void transpose16(T* r) {
    T t[16], u[16];
    for (int i = 0; i < 8; ++i) {  // per 128-bit lane: a0 b0 a1 b1 / a2 b2 a3 b3
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; ++g) {  // u[4g + c], lane L: rows 4g..4g+3 of column 4L + c
      const __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
      const __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
      u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
      u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
      u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
      u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    for (int c = 0; c < 4; ++c) {  // gather lane L of u[c], u[4+c], u[8+c], u[12+c] into r[4L + c]
      const T v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
      const T w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
      const T w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
      r[c] = _mm512_shuffle_f32x4(v0, w0, 0x88);
      r[8 + c] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
      r[4 + c] = _mm512_shuffle_f32x4(v1, w1, 0x88);
      r[12 + c] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
    }
  }
  static DSOCR_INLINE T zero() { return _mm512_setzero_ps(); }
  static DSOCR_INLINE T set1(float v) { return _mm512_set1_ps(v); }
  static DSOCR_INLINE T load(const float* p) { return _mm512_loadu_ps(p); }
  static DSOCR_INLINE void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static DSOCR_INLINE __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static DSOCR_INLINE T loadn(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static DSOCR_INLINE void storen(float* p, T v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  // bf16 pairs (dword = lo | hi << 16) widened exactly to f32: even = lo, odd = hi.
  static DSOCR_INLINE void widen_pairs(__m512i v, T& even, T& odd) {
    even = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    odd = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static DSOCR_INLINE T load_bf16(const uint16_t* p) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static DSOCR_INLINE T loadn_bf16(const uint16_t* p, int n) {
    __m256i h = _mm256_maskz_loadu_epi16(mask(n), p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static DSOCR_INLINE T add(T a, T b) { return _mm512_add_ps(a, b); }
  static DSOCR_INLINE T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static DSOCR_INLINE T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static DSOCR_INLINE T div(T a, T b) { return _mm512_div_ps(a, b); }
  static DSOCR_INLINE T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static DSOCR_INLINE T max(T a, T b) { return _mm512_max_ps(a, b); }
  static DSOCR_INLINE T min(T a, T b) { return _mm512_min_ps(a, b); }
  static DSOCR_INLINE T abs(T a) { return _mm512_abs_ps(a); }
  static DSOCR_INLINE T lt_select(T a, T b, T x, T y) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x);
  }
  static DSOCR_INLINE T ge0_select(T a, T x, T y) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GE_OQ), y, x);
  }
  static DSOCR_INLINE float lane0(T a) { return _mm512_cvtss_f32(a); }
  static DSOCR_INLINE float hsum(T a) {
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(a),
                              _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static DSOCR_INLINE float hmax(T a) { return _mm512_reduce_max_ps(a); }
  static DSOCR_INLINE T exp(T x) {
    DSOCR_EXP_CONSTS
    const T lo = _mm512_set1_ps(-87.33654f);
    T xc = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.72283f));
    T fx = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    T r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(kC1), xc);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(kC2), r);
    T y = _mm512_set1_ps(kP0);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kP1));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kP2));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kP3));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kP4));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kP5));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    T res = _mm512_scalef_ps(y, fx);
    res = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), res, _mm512_setzero_ps());
    res = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(88.72283f), _CMP_GT_OQ), res,
                               _mm512_set1_ps(INFINITY));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), res, x);
  }
};
DSOCR_END_TARGET

#endif  // DSOCR_X86

}  // namespace dsocr::simd
