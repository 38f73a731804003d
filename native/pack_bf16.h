// The BF16 packed weight format (PackFmt::BF16). See gemm_bf16-inl.h for the layout and kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packed.h"

namespace dsocr {

// Panel width (output columns = weight rows) of the BF16 layout; the layout is the same for every ISA.
constexpr size_t kBf16PanelN = 32;

Packed* pack_bf16(const WeightRef& src);
void linear_bf16(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y);

// Tests: false makes the AVX-512 level use the AVX-512F widening kernels even where the CPU has
// AVX512_BF16 (vdpbf16ps), so both paths can be checked on one machine. Default true.
void set_bf16_dot(bool on);
bool bf16_dot_available();  // the CPU has AVX512_BF16 (and it is enabled)
bool bf16_dot_enabled();    // bf16_dot_available() and not switched off by set_bf16_dot

}  // namespace dsocr
