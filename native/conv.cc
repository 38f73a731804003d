// conv2d, NCHW with N = 1:
//   out[o, oy, ox] = bias[o] + sum_{ci, ky, kx} W[o, (ci*k + ky)*k + kx] * x[ci, oy*s - p + ky, ox*s - p + kx]
// (zero outside the input). im2col builds col [ho*wo, c*k*k] (row = output pixel, columns in the
// weight's (ci, ky, kx) order), the linear kernel computes Y = col W^T [ho*wo, out] with the
// same blocked GEMM (bf16 weights widened on the fly), and Y is transposed to [out, ho, wo] with
// the bias added. im2col and the transpose are spread over the pool.
#include <algorithm>
#include <cstring>
#include <memory>

#include "kernels.h"
#include "packed.h"
#include "pool.h"

namespace dsocr {

void conv2d(Isa isa, const Conv2dArgs& a) {
  const size_t c = a.c, h = a.h, w = a.w, k = a.k, s = a.stride, p = a.pad;
  const size_t ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
  const size_t P = ho * wo, ckk = c * k * k, oc = a.packed ? a.packed->rows : a.weight.rows;
  // Uninitialised buffers (every element is written before it is read).
  std::unique_ptr<float[]> colbuf(new float[P * ckk]);
  float* col = colbuf.get();
  pool::parallel_for(ho, [&](size_t oy) {
    for (size_t ox = 0; ox < wo; ++ox) {
      float* dst = col + (oy * wo + ox) * ckk;
      for (size_t ci = 0; ci < c; ++ci) {
        for (size_t ky = 0; ky < k; ++ky) {
          float* d = dst + (ci * k + ky) * k;
          const int64_t iy = static_cast<int64_t>(oy * s + ky) - static_cast<int64_t>(p);
          if (iy < 0 || iy >= static_cast<int64_t>(h)) {
            std::fill(d, d + k, 0.f);
            continue;
          }
          const float* src = a.x + (ci * h + static_cast<size_t>(iy)) * w;
          const int64_t ix0 = static_cast<int64_t>(ox * s) - static_cast<int64_t>(p);
          if (ix0 >= 0 && ix0 + static_cast<int64_t>(k) <= static_cast<int64_t>(w)) {
            std::memcpy(d, src + ix0, k * sizeof(float));
          } else {
            for (size_t kx = 0; kx < k; ++kx) {
              const int64_t ix = ix0 + static_cast<int64_t>(kx);
              d[kx] = ix < 0 || ix >= static_cast<int64_t>(w) ? 0.f : src[ix];
            }
          }
        }
      }
    }
  });
  std::unique_ptr<float[]> ybuf(new float[P * oc]);
  float* y = ybuf.get();
  if (a.packed) {
    linear_packed(isa, col, P, *a.packed, nullptr, y);
  } else {
    linear(isa, col, P, a.weight, nullptr, y);
  }
  colbuf.reset();
  constexpr size_t B = 32;
  pool::parallel_for((oc + B - 1) / B, [&](size_t t) {
    const size_t o0 = t * B, o1 = std::min(oc, o0 + B);
    for (size_t p0 = 0; p0 < P; p0 += B) {
      const size_t p1 = std::min(P, p0 + B);
      for (size_t o = o0; o < o1; ++o) {
        const float bo = a.bias ? a.bias[o] : 0.f;
        float* dst = a.out + o * P;
        for (size_t q = p0; q < p1; ++q) dst[q] = y[q * oc + o] + bo;
      }
    }
  });
}

}  // namespace dsocr
