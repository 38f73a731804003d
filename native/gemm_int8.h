// Large-M linear over INT8 packed weights on AVX512_BF16 CPUs (prefill; see gemm_int8.cc).
#pragma once

#include <cstddef>

#include "packed.h"

namespace dsocr {

// True where gemm_int8_bf16 may run: the CPU has AVX512_BF16 and set_bf16_dot has not turned the
// dot-product kernels off (pack_bf16.h).
bool gemm_int8_available();

// y[M, w.rows] = bf16(x)[M, w.cols] · Wᵀ (+ bias), W the INT8 weight q · s (group scales), summed
// per group with vdpbf16ps and scaled in f32. M, w.rows, w.cols >= 1. Only where
// gemm_int8_available().
void gemm_int8_bf16(const float* x, size_t M, const Packed& w, const float* bias, float* y);

}  // namespace dsocr
