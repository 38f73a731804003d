// Packed weights: ownership and the per-format dispatch (see packed.h).
#include "packed.h"

#include <algorithm>

#include "pack_bf16.h"
#include "pack_int8.h"
#include "weight_alloc.h"

namespace dsocr {

Packed::~Packed() {
  weight_free(data, data_alloc);
  weight_free(scales, scales_alloc);
}

PackedSizes packed_sizes(PackFmt fmt, size_t rows, size_t cols, size_t group) {
  auto round64 = [](size_t n) { return std::max<size_t>(64, (n + 63) / 64 * 64); };
  PackedSizes z;
  switch (fmt) {
    case PackFmt::BF16: {  // panels of kBf16PanelN rows x ceil(cols / 2) bf16 pairs (pack_bf16.cc)
      z.bytes = (rows + kBf16PanelN - 1) / kBf16PanelN * ((cols + 1) / 2) * kBf16PanelN * sizeof(uint32_t);
      z.data_alloc = round64(z.bytes);
      break;
    }
    case PackFmt::INT8: {  // panels of int8::P rows x padded_k(cols), f32 scales [padded rows, ng]
      const size_t np = int8::padded_n(rows), kp = int8::padded_k(cols), ng = int8::groups(cols, group);
      z.bytes = np * kp + np * ng * sizeof(float);
      z.data_alloc = std::max<size_t>(64, np * kp);
      z.scales_alloc = round64(np * ng * sizeof(float));
      break;
    }
  }
  return z;
}

Packed* pack_weight(Isa isa, const WeightRef& src, PackFmt fmt, size_t group) {
  switch (fmt) {
    case PackFmt::BF16:
      return pack_bf16(src);
    case PackFmt::INT8:
      return pack_int8(isa, src, group);
  }
  return nullptr;
}

void linear_packed(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y) {
  // Degenerate sizes for every format: nothing to write, or y = bias (an empty sum).
  if (m == 0 || w.rows == 0) return;
  if (w.cols == 0) {
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < w.rows; ++j) y[i * w.rows + j] = bias ? bias[j] : 0.f;
    return;
  }
  switch (w.fmt) {
    case PackFmt::BF16:
      linear_bf16(isa, x, m, w, bias, y);
      break;
    case PackFmt::INT8:
      linear_int8(isa, x, m, w, bias, y);
      break;
  }
}

}  // namespace dsocr
