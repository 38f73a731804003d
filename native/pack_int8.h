// The int8 packed format (PackFmt::INT8; see packed.h and pack_int8-inl.h for the layout).
#pragma once

#include <cstdint>
#include <vector>

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

// Input rows quantised for the int8 kernels (quant_x) to int16, per group of G consecutive k
// values of each row (the weight's groups):
//   s[r][g] = f32(max_{k in g} |x[r][k]| / 32767),  q[r][k] = round_half_up(f32(x[r][k] / s)) in
//   [-32767, 32767] (0 where s = 0).
// The step, 1/32767 of the group's largest magnitude, is below bf16's rounding (2^-9 of the value)
// for every value above 1/64 of that maximum, so the int16 rows are as accurate as the bf16 rows of
// the other formats while the products stay integers (W8A16): decode runs them on vpdpwssd with the
// int8 weights sign-extended in one instruction. (int8 activations were measured: 1.7-2.3x the
// logit error of bf16 ones on the real-size model.)
// q: [m][Kp] (Kp = int8::padded_k(K), zero past K); s: [m][ng]; deq: [m][K], f32(q * s), for the
// f32 kernels.
struct QuantX {
  const int16_t* q = nullptr;
  const float* s = nullptr;
  const float* deq = nullptr;
  size_t m = 0, G = 0;
};

// Owns the buffers of a QuantX (reused between calls).
struct QuantXBuf {
  std::vector<int16_t> q;
  std::vector<float> s, deq;
};

// Quantises x [m][K] per group of G (group_supported) into buf; returns the view (deq null unless
// `deq`). Rows in parallel on the pool when m is large.
QuantX quant_x(Isa isa, const float* x, size_t m, size_t K, size_t G, QuantXBuf& buf, bool deq);

// quant_x's arithmetic into caller buffers: rows [m][ldq] int16 (ldq >= K, zero in [K, ldq)) and
// scales [m][ng]. Single-threaded.
void quant_rows_into(Isa isa, const float* x, size_t m, size_t K, size_t G, int16_t* q, size_t ldq, float* s);

// True where the int8 kernels run their integer products on vpdpwssd (AVX512_VNNI) at this ISA
// level (and set_bf16_dot has not turned the dot-product kernels off, pack_bf16.h).
bool int8_dot_available(Isa isa);

// Single-threaded row range for fused callers (moe): y[i * ldy + (n - n0)] = x[i] · W[n] for
// n in [n0, n1) (n0 a multiple of int8::P, n1 <= rows), i < x.m <= 16. No bias. x must be quantised
// with the weight's group (x.G == w.group).
void int8_rows(Isa isa, const QuantX& x, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy);

}  // namespace dsocr
