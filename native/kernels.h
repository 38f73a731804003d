// Internal C++ kernel API (see src/kernels/types.ts for the contract). Every function trusts its
// arguments: addon.cc checks all sizes before calling. All arrays are row-major f32 unless noted.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu.h"

namespace dsocr {

/** A [rows = N, cols = K] weight, bf16 bit patterns or f32. */
struct WeightRef {
  const void* data;
  bool bf16;
  size_t rows, cols;
};

void linear(Isa isa, const float* x, size_t m, const WeightRef& w, const float* bias, float* y);

void layer_norm(Isa isa, const float* x, size_t rows, size_t cols, const float* w, const float* b, float eps,
                float* y);
void rms_norm(Isa isa, const float* x, size_t rows, size_t cols, const float* w, float eps, float* y);
void softmax(Isa isa, float* x, size_t rows, size_t cols);

void gelu(Isa isa, float* x, size_t n);
void quick_gelu(Isa isa, float* x, size_t n);
void silu(Isa isa, float* x, size_t n);
void swiglu(Isa isa, float* gate, const float* up, size_t n);
void add(Isa isa, float* a, const float* b, size_t n);
// out[i] = x[i] rounded to bf16 (nearest even; NaN stays a quiet NaN), as bit patterns.
void round_bf16(Isa isa, const float* x, size_t n, uint16_t* out);

void rope(Isa isa, float* x, size_t rows, size_t heads, size_t head_dim, const int32_t* positions,
          const float* inv_freq);

struct AttentionArgs {
  const float* q;  // [batch, lq, heads * d]
  // [batch, cap, kv_heads * d]: f32, or bf16 bit patterns (uint16_t) when kv_bf16 (a bf16 KV
  // cache), widened exactly to f32 as they are loaded.
  const void* k;
  const void* v;
  bool kv_bf16;
  float* out;  // [batch, lq, heads * d]
  size_t batch, lq, lk, heads, kv_heads, d, cap;
  float scale;
  bool causal;
  int64_t causal_offset;
  const float* mask;  // [lq, lk] or null
  // SAM decomposed relative position: lq == lk == rel_h * rel_w; tables [2h-1, d], [2w-1, d].
  const float* rel_h_table;  // null when absent
  const float* rel_w_table;
  size_t rel_h, rel_w;
  // bf16 products (types.ts AttentionParams.bf16): q, k, v and the probabilities rounded to bf16
  // for q·kᵀ and p·v. bf16_dot (set by attention()): on vdpbf16ps (AVX-512 level, AVX512_BF16).
  bool bf16_products = false;
  bool bf16_dot = false;
};

void attention(Isa isa, const AttentionArgs& a);

struct Packed;  // packed.h

struct Conv2dArgs {
  const float* x;  // [c, h, w]
  size_t c, h, w, k, stride, pad;
  WeightRef weight;  // [out, c*k*k]
  const float* bias;  // [out] or null
  float* out;         // [out, ho, wo]
  const Packed* packed = nullptr;  // when set: the weight, packed (packed.h); `weight` is unused
};

void conv2d(Isa isa, const Conv2dArgs& a);

}  // namespace dsocr
