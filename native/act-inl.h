// Elementwise kernels, in place (one copy per ISA; see isa_foreach.h):
//   gelu(x)      = x * Phi(x) = x * 0.5 * erfc(-x / sqrt 2)   (exact erf GELU)
//   quickGelu(x) = x * sigmoid(1.702 x) = x / (1 + exp(-1.702 x))
//   silu(x)      = x / (1 + exp(-x))
//   swiglu       gate = silu(gate) * up
//   add          a = a + b
//   round_bf16   out[i] = bf16 bits of x[i]: round to nearest even on the f32 bits,
//                (u + 0x7fff + ((u >> 16) & 1)) >> 16, NaN -> (u >> 16) | 0x40 (quiet), overflow -> inf
//                (src/util/bf16.ts's rule; a bf16 KV cache stores K/V this way)
// The scalar ISA evaluates in f64 with libm (like reference.ts). The vector ISAs use f32:
// erfc(z) = t * exp(-z^2 - 1.26551223 + t * P9(t)), t = 1 / (1 + z/2) (Numerical Recipes'
// erfcc, relative error < 1.2e-7 for all z >= 0), with x^2 split exactly (FMA) as hi + lo and
// exp(-hi/2) * exp(P - lo/2) so that no cancellation or large-argument rounding enters;
// Phi(x) = 1 - erfc/2 for x >= 0, erfc/2 for x < 0. Measured |rel. error| of gelu < 1e-6.
#include "gemm-inl.h"

namespace dsocr {
namespace DSOCR_NS {
namespace {

constexpr size_t ACT_CHUNK = 16384;

// x[i] = f(x[i]) (and with a second operand) over the pool, vector body + masked tail.
template <class F>
void map_inplace(float* x, const float* y, size_t n, F f) {
  pool::parallel_for(ceil_div(n, ACT_CHUNK), [&](size_t t) {
    size_t i = t * ACT_CHUNK, e = std::min(n, i + ACT_CHUNK);
    for (; i + VW <= e; i += VW) V::store(x + i, f(V::load(x + i), y ? V::load(y + i) : V::zero()));
    if (i < e) {
      int r = static_cast<int>(e - i);
      V::storen(x + i, f(V::loadn(x + i, r), y ? V::loadn(y + i, r) : V::zero()), r);
    }
  });
}

template <class X>
DSOCR_INLINE X gelu_v(X x) {
  if constexpr (std::is_same_v<X, float>) {
    double xd = x;
    return static_cast<float>(0.5 * xd * std::erfc(-xd * 0.70710678118654752440));
  } else {
    VT xc = V::min(V::max(x, V::set1(-30.f)), V::set1(30.f));
    VT z = V::mul(V::abs(xc), V::set1(0.70710678118654752f));
    VT t = V::div(V::set1(1.f), V::fma(z, V::set1(0.5f), V::set1(1.f)));
    VT p = V::set1(0.17087277f);
    p = V::fma(p, t, V::set1(-0.82215223f));
    p = V::fma(p, t, V::set1(1.48851587f));
    p = V::fma(p, t, V::set1(-1.13520398f));
    p = V::fma(p, t, V::set1(0.27886807f));
    p = V::fma(p, t, V::set1(-0.18628806f));
    p = V::fma(p, t, V::set1(0.09678418f));
    p = V::fma(p, t, V::set1(0.37409196f));
    p = V::fma(p, t, V::set1(1.00002368f));
    p = V::fma(p, t, V::set1(-1.26551223f));
    VT hi = V::mul(xc, xc);
    VT lo = V::fma(xc, xc, V::sub(V::zero(), hi));  // xc^2 = hi + lo exactly
    const VT half = V::set1(0.5f);
    VT e = V::mul(V::exp(V::mul(hi, V::set1(-0.5f))), V::exp(V::fma(lo, V::set1(-0.5f), p)));
    VT hc = V::mul(V::mul(t, e), half);  // erfc(|x| / sqrt 2) / 2
    VT phi = V::ge0_select(x, V::sub(V::set1(1.f), hc), hc);
    return V::mul(x, phi);
  }
}

// x / (1 + exp(-a x))
template <class X>
DSOCR_INLINE X sigmoid_mul(X x, double a) {
  if constexpr (std::is_same_v<X, float>) {
    double xd = x;
    return static_cast<float>(xd / (1.0 + std::exp(-a * xd)));
  } else {
    return V::div(x, V::add(V::set1(1.f), V::exp(V::mul(x, V::set1(static_cast<float>(-a))))));
  }
}

void gelu(float* x, size_t n) {
  map_inplace(x, nullptr, n, [&](VT v, VT) { return gelu_v(v); });
}
void quick_gelu(float* x, size_t n) {
  map_inplace(x, nullptr, n, [&](VT v, VT) { return sigmoid_mul(v, 1.702); });
}
void silu(float* x, size_t n) {
  map_inplace(x, nullptr, n, [&](VT v, VT) { return sigmoid_mul(v, 1.0); });
}
template <class X>
DSOCR_INLINE X swiglu_v(X a, X b) {
  if constexpr (std::is_same_v<X, float>) {
    double ad = a;
    return static_cast<float>(ad / (1.0 + std::exp(-ad)) * static_cast<double>(b));
  } else {
    return V::mul(sigmoid_mul(a, 1.0), b);
  }
}

void swiglu(float* g, const float* u, size_t n) {
  map_inplace(g, u, n, [&](VT a, VT b) { return swiglu_v(a, b); });
}
void add(float* a, const float* b, size_t n) {
  map_inplace(a, b, n, [&](VT x, VT y) { return V::add(x, y); });
}

// Branch-free integer form of the rule above (the compiler vectorises it for the ISA's target).
void round_bf16(const float* x, size_t n, uint16_t* out) {
  pool::parallel_for(ceil_div(n, ACT_CHUNK), [&](size_t t) {
    const size_t i0 = t * ACT_CHUNK, i1 = std::min(n, i0 + ACT_CHUNK);
    const float* __restrict src = x;
    uint16_t* __restrict dst = out;
    for (size_t i = i0; i < i1; ++i) {
      uint32_t u;
      std::memcpy(&u, src + i, 4);
      const uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
      const uint32_t q = (u >> 16) | 0x40u;
      dst[i] = static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? q : r);
    }
  });
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr
