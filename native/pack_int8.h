// The int8 packed format (PackFmt::INT8; see packed.h and pack_int8-inl.h for the layout).
#pragma once

#include "packed.h"

namespace dsocr {

namespace int8 {
constexpr size_t P = 4;    // rows per panel
constexpr size_t KB = 64;  // k values per row chunk (one cache line per row)
inline size_t padded_k(size_t k) { return (k + KB - 1) / KB * KB; }
inline size_t padded_n(size_t n) { return (n + P - 1) / P * P; }
/** Scale groups per row: ceil(k / group) (the last one shorter when group does not divide k). */
inline size_t groups(size_t k, size_t group) { return (k + group - 1) / group; }
/** Group sizes the kernels are built for (consecutive k values sharing one scale). */
inline bool group_supported(size_t g) { return g == 32 || g == 64 || g == 128; }
}  // namespace int8

/** Quantises src with one f32 scale per `group` consecutive k values of each row (group_supported). */
Packed* pack_int8(Isa isa, const WeightRef& src, size_t group);
void linear_int8(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y);

// y[i] = f32(bf16(x[i])), i < n (RNE; a NaN stays NaN): the rounding of the int8 (and bf16)
// formats' input rows. In place allowed.
void round_bf16(Isa isa, const float* x, size_t n, float* y);

// Single-threaded row range for fused callers (moe): y[i * ldy + (n - n0)] = x[i] · W[n] for
// n in [n0, n1) (n0 a multiple of int8::P, n1 <= rows), i < m <= 16. No bias. x must already be
// rounded to bf16 (round_bf16), as linear_int8 rounds it.
void int8_rows(Isa isa, const float* x, size_t m, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy);

}  // namespace dsocr
