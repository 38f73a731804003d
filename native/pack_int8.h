// The int8 packed format (PackFmt::INT8; see packed.h and pack_int8-inl.h for the layout).
#pragma once

#include "packed.h"

namespace dsocr {

namespace int8 {
constexpr size_t P = 4;    // rows per panel
constexpr size_t KB = 64;  // k values per row chunk (one cache line per row)
inline size_t padded_k(size_t k) { return (k + KB - 1) / KB * KB; }
inline size_t padded_n(size_t n) { return (n + P - 1) / P * P; }
}  // namespace int8

Packed* pack_int8(Isa isa, const WeightRef& src);
void linear_int8(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y);

// Single-threaded row range for fused callers (moe): y[i * ldy + (n - n0)] = x[i] · W[n] for
// n in [n0, n1) (n0 a multiple of int8::P, n1 <= rows), i < m <= 16. No bias.
void int8_rows(Isa isa, const float* x, size_t m, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy);

}  // namespace dsocr
