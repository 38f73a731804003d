// Large-M linear over INT8 packed weights on AVX512_VNNI CPUs (prefill; see gemm_int8.cc).
#pragma once

#include <cstddef>

#include "pack_int8.h"
#include "packed.h"

namespace dsocr {

// True where gemm_int8_dot may run: the CPU has AVX512_VNNI (and AVX512_BF16, as every such CPU) and
// set_bf16_dot has not turned the dot-product kernels off (pack_bf16.h).
bool gemm_int8_available();

// y[M, w.rows] = x · Wᵀ (+ bias), x [M, w.cols] quantised to int16 with the weight's group as
// quant_x does (pack_int8.h QuantX), W the INT8 weight q · s: the integer products per group on
// vpdpwssd (exact), scaled in f32. M, w.rows, w.cols >= 1. Only where gemm_int8_available().
void gemm_int8_dot(const float* x, size_t M, const Packed& w, const float* bias, float* y);

}  // namespace dsocr
