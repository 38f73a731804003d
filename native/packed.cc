// Packed weights: ownership and the per-format dispatch (see packed.h).
#include "packed.h"

#include <cstdlib>

#include "pack_bf16.h"
#include "pack_int8.h"

namespace dsocr {

Packed::~Packed() {
  std::free(data);
  std::free(scales);
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
