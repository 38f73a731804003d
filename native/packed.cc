// Packed weights: ownership and the per-format dispatch (see packed.h).
#include "packed.h"

#include <cstdlib>

#include "pack_int8.h"

namespace dsocr {

Packed::~Packed() {
  std::free(data);
  std::free(scales);
}

Packed* pack_weight(Isa isa, const WeightRef& src, PackFmt fmt) {
  switch (fmt) {
    case PackFmt::INT8:
      return pack_int8(isa, src);
    default:
      return nullptr;  // not implemented (yet)
  }
}

void linear_packed(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y) {
  switch (w.fmt) {
    case PackFmt::INT8:
      linear_int8(isa, x, m, w, bias, y);
      break;
    default:
      break;
  }
}

}  // namespace dsocr
