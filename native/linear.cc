// linear: y = x W^T + bias (see linear-inl.h for the algorithms).
#include "kernels.h"
#include "pool.h"

#define DSOCR_INL "linear-inl.h"
#include "isa_foreach.h"

namespace dsocr {

void linear(Isa isa, const float* x, size_t m, const WeightRef& w, const float* bias, float* y) {
  DSOCR_DISPATCH(isa, linear, x, m, w, bias, y);
}

}  // namespace dsocr
