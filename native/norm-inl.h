// Row-wise kernels over the last axis (one copy per ISA; see isa_foreach.h):
//   layerNorm: y = (x - mean) / sqrt(var + eps) * w + b, mean and biased var over the row
//   rmsNorm:   y = (x / sqrt(mean(x^2) + eps)) * w     (the normalised value rounded to f32 first)
//   softmax:   x = exp(x - max) / sum exp(x - max)      (in place)
// Row statistics are summed in f32 vector lanes over chunks of CH elements and the chunk sums in
// f64; the elementwise part is f32. Rows are spread over the pool in groups.
#include "gemm-inl.h"

namespace dsocr {
namespace DSOCR_NS {
namespace {

constexpr size_t CH = 256;

template <class F>
void for_rows(size_t rows, size_t cols, F&& f) {
  size_t per = std::max<size_t>(1, 16384 / std::max<size_t>(1, cols));
  pool::parallel_for(ceil_div(rows, per), [&](size_t t) {
    size_t r1 = std::min(rows, (t + 1) * per);
    for (size_t r = t * per; r < r1; ++r) f(r);
  });
}

// sum_i g(x[i]) with g applied per vector: f32 lanes per chunk, chunks summed in f64.
template <class G>
double chunked_sum(const float* x, size_t n, G g) {
  double total = 0.0;
  for (size_t c0 = 0; c0 < n; c0 += CH) {
    size_t c1 = std::min(n, c0 + CH), i = c0;
    VT s0 = V::zero(), s1 = V::zero();
    for (; i + 2 * VW <= c1; i += 2 * VW) {
      s0 = V::add(s0, g(V::load(x + i)));
      s1 = V::add(s1, g(V::load(x + i + VW)));
    }
    for (; i + VW <= c1; i += VW) s0 = V::add(s0, g(V::load(x + i)));
    float tail = 0.f;
    for (; i < c1; ++i) tail += V::lane0(g(V::set1(x[i])));
    total += static_cast<double>(V::hsum(V::add(s0, s1))) + static_cast<double>(tail);
  }
  return total;
}

void layer_norm(const float* x, size_t rows, size_t cols, const float* w, const float* b, float eps, float* y) {
  if (cols == 0) return;
  for_rows(rows, cols, [&](size_t r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double mean = chunked_sum(xr, cols, [&](VT v) { return v; }) / static_cast<double>(cols);
    const float mf = static_cast<float>(mean);
    const VT vm = V::set1(mf);
    double var = chunked_sum(xr, cols, [&](VT v) {
                   VT t = V::sub(v, vm);
                   return V::mul(t, t);
                 }) /
                 static_cast<double>(cols);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    const VT vi = V::set1(inv);
    size_t c = 0;
    for (; c + VW <= cols; c += VW)
      V::store(yr + c, V::fma(V::mul(V::sub(V::load(xr + c), vm), vi), V::load(w + c), V::load(b + c)));
    for (; c < cols; ++c) yr[c] = (xr[c] - mf) * inv * w[c] + b[c];
  });
}

void rms_norm(const float* x, size_t rows, size_t cols, const float* w, float eps, float* y) {
  if (cols == 0) return;
  for_rows(rows, cols, [&](size_t r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double ss = chunked_sum(xr, cols, [&](VT v) { return V::mul(v, v); });
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(cols) + static_cast<double>(eps));
    if constexpr (VW == 1) {
      for (size_t c = 0; c < cols; ++c) yr[c] = static_cast<float>(xr[c] * inv) * w[c];
    } else {
      const VT vi = V::set1(static_cast<float>(inv));
      size_t c = 0;
      for (; c + VW <= cols; c += VW) V::store(yr + c, V::mul(V::mul(V::load(xr + c), vi), V::load(w + c)));
      for (; c < cols; ++c) yr[c] = (xr[c] * static_cast<float>(inv)) * w[c];
    }
  });
}

void softmax(float* x, size_t rows, size_t cols) {
  if (cols == 0) return;
  for_rows(rows, cols, [&](size_t r) {
    float* xr = x + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
    size_t c = 0;
    if (cols >= static_cast<size_t>(VW)) {
      VT m = V::load(xr);
      for (c = VW; c + VW <= cols; c += VW) m = V::max(m, V::load(xr + c));
      mx = V::hmax(m);
    }
    for (; c < cols; ++c) mx = std::max(mx, xr[c]);
    const VT vm = V::set1(mx);
    double sum = 0.0;
    for (size_t c0 = 0; c0 < cols; c0 += CH) {
      size_t c1 = std::min(cols, c0 + CH);
      VT s = V::zero();
      for (c = c0; c + VW <= c1; c += VW) {
        VT e = V::exp(V::sub(V::load(xr + c), vm));
        V::store(xr + c, e);
        s = V::add(s, e);
      }
      if (c < c1) {
        int t = static_cast<int>(c1 - c);
        V::storen(xr + c, V::exp(V::sub(V::loadn(xr + c, t), vm)), t);
        for (; c < c1; ++c) sum += xr[c];
      }
      sum += V::hsum(s);
    }
    const float sf = static_cast<float>(sum);
    const VT vs = V::set1(sf);
    for (c = 0; c + VW <= cols; c += VW) V::store(xr + c, V::div(V::load(xr + c), vs));
    for (; c < cols; ++c) xr[c] /= sf;
  });
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr
