// layerNorm, rmsNorm, softmax (see norm-inl.h).
#include "kernels.h"
#include "pool.h"

#define DSOCR_INL "norm-inl.h"
#include "isa_foreach.h"

namespace dsocr {

void layer_norm(Isa isa, const float* x, size_t rows, size_t cols, const float* w, const float* b, float eps,
                float* y) {
  DSOCR_DISPATCH(isa, layer_norm, x, rows, cols, w, b, eps, y);
}

void rms_norm(Isa isa, const float* x, size_t rows, size_t cols, const float* w, float eps, float* y) {
  DSOCR_DISPATCH(isa, rms_norm, x, rows, cols, w, eps, y);
}

void softmax(Isa isa, float* x, size_t rows, size_t cols) { DSOCR_DISPATCH(isa, softmax, x, rows, cols); }

}  // namespace dsocr
