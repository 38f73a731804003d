// Dispatch of the packed weight formats (packed.h) to their implementations.
#include "packed.h"

#include <cstdlib>

#include "pack_bf16.h"

namespace dsocr {

Packed::~Packed() {
  std::free(data);
  std::free(scales);
}

Packed* pack_weight(Isa isa, const WeightRef& src, PackFmt fmt) {
  switch (fmt) {
    case PackFmt::BF16:
      return pack_bf16(src);
    default:
      return nullptr;  // INT8: perf-decode
  }
}

void linear_packed(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y) {
  switch (w.fmt) {
    case PackFmt::BF16:
      linear_bf16(isa, x, m, w, bias, y);
      break;
    default:
      break;
  }
}

}  // namespace dsocr
