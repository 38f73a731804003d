// Small-M (decode) kernels over the BF16 packed layout (pack_bf16.h, gemm_bf16-inl.h): each task
// streams a contiguous range of whole panels once, several panels interleaved, with software
// prefetch. Every output is the same chain of bf16 pair products, in k order from zero, as in the
// blocked GEMM (vdpbf16ps, or the widening FMAs without AVX512_BF16), so results are bit-identical
// to linear_bf16's GEMM path and independent of the thread count. AVX-512 and AVX2; at the scalar
// level bf16_small_available is false and callers use linear_bf16.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packed.h"

namespace dsocr {

// Rows of x at most for the small-M kernels.
constexpr size_t kBf16SmallM = 16;

bool bf16_small_available(Isa isa);

// a[i * ceil(K/2) + kp] = bf16(x[i][2kp]) | bf16(x[i][2kp+1]) << 16 (RNE; a zero pad past K), i < m.
void bf16_round_rows(Isa isa, const float* x, size_t m, size_t K, uint32_t* a);

// Single-threaded: y[i * ldy + (n - n0)] = row i of a . W[n] for n in [n0, n1) (n0 a multiple of
// the panel width 32), i < m (<= kBf16SmallM). a as bf16_round_rows writes it.
void bf16_rows(Isa isa, const uint32_t* a, size_t m, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy);

// y[m, N] = x[m, K] · Wᵀ (+ bias) on the pool, m <= kBf16SmallM. False (nothing done) when the
// small kernels are not available for isa.
bool linear_bf16_small(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y);

}  // namespace dsocr
