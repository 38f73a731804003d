// rope: rotary embedding, rotate-half convention, in place on x [rows, heads * head_dim].
//   For j < half = head_dim / 2:  a = f32(pos * inv_freq[j]),  c = f32(cos a),  s = f32(sin a)
//   x1 = x[j], x2 = x[j + half]:  x[j] = x1 c - x2 s,  x[j + half] = x2 c + x1 s
// inv_freq comes from TypeScript (reference.ts ropeInvFreq, bit-identical); the angle product is
// rounded to f32, cos/sin evaluated in f64 and rounded to f32, the rotation in f64 and rounded:
// exactly the reference's arithmetic. Trigonometry dominates, so there is one (scalar) version.
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace dsocr {

void rope(Isa, float* x, size_t rows, size_t heads, size_t head_dim, const int32_t* positions,
          const float* inv_freq) {
  const size_t half = head_dim / 2, width = heads * head_dim;
  if (rows == 0 || half == 0) return;
  const size_t per = std::max<size_t>(1, 2048 / std::max<size_t>(1, half * heads));
  pool::parallel_for((rows + per - 1) / per, [&](size_t t) {
    float* cs = pool::scratch_as<float>(0, 2 * half);
    float* sn = cs + half;
    size_t r1 = std::min(rows, (t + 1) * per);
    for (size_t r = t * per; r < r1; ++r) {
      const double p = static_cast<double>(positions[r]);
      for (size_t j = 0; j < half; ++j) {
        const float a = static_cast<float>(p * static_cast<double>(inv_freq[j]));
        cs[j] = static_cast<float>(std::cos(static_cast<double>(a)));
        sn[j] = static_cast<float>(std::sin(static_cast<double>(a)));
      }
      for (size_t h = 0; h < heads; ++h) {
        float* xr = x + r * width + h * head_dim;
        for (size_t j = 0; j < half; ++j) {
          const double x1 = xr[j], x2 = xr[j + half], c = cs[j], s = sn[j];
          xr[j] = static_cast<float>(x1 * c - x2 * s);
          xr[j + half] = static_cast<float>(x2 * c + x1 * s);
        }
      }
    }
  });
}

}  // namespace dsocr
