// Weights repacked once at load time (issue 10). A Packed weight is owned by a Napi::External
// (freed by its finalizer) and passed back to the kernels by the TypeScript side as an opaque
// handle (src/kernels/types.ts PackedWeight.handle). Each format defines its own layout of
// `data`; the kernels of that format are the only readers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu.h"
#include "kernels.h"

namespace dsocr {

enum class PackFmt : int32_t {
  BF16 = 0,  // bf16 weights laid out for bf16 dot products; the input rows are rounded to bf16
  INT8 = 1,  // int8 weights with f32 scales per group of k values of each row
};

struct Packed {
  PackFmt fmt;
  size_t rows = 0, cols = 0;  // logical [rows = N, cols = K], as the plain weight
  size_t bytes = 0;           // bytes owned (data + scales), for memory accounting
  void* data = nullptr;       // 64-byte aligned, owned (weight_alloc); layout defined by the format
  float* scales = nullptr;    // INT8: owned scales (weight_alloc); BF16: null
  size_t data_alloc = 0, scales_alloc = 0;  // bytes given to weight_alloc
  size_t group = 0;           // INT8: k values per scale (scales [padded rows, ceil(cols / group)])
  ~Packed();
};

// The byte counts of a format's pack of a [rows, cols] weight (group: INT8 only): `bytes` as
// Packed::bytes, and the sizes given to weight_alloc for data and scales (0: none).
struct PackedSizes {
  size_t bytes = 0, data_alloc = 0, scales_alloc = 0;
};
PackedSizes packed_sizes(PackFmt fmt, size_t rows, size_t cols, size_t group);

// Packs a plain weight (bf16 or f32, row-major [rows, cols]) into `fmt` (INT8: `group` consecutive
// k values per scale, 32, 64 or 128; ignored by BF16). Returns null on allocation failure or an
// unsupported group. Implemented per format in pack_<fmt>.cc; dispatched in packed.cc.
Packed* pack_weight(Isa isa, const WeightRef& src, PackFmt fmt, size_t group);

// y[m, rows] = x[m, cols] · Wᵀ (+ bias) for a packed weight. Dispatched in packed.cc to the
// format's kernels (small m: decode, streaming; large m: blocked GEMM).
void linear_packed(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y);

}  // namespace dsocr
