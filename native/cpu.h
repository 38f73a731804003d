// Run-time CPU feature detection (cpuid + xgetbv) and the ISA levels the kernels are built for.
#pragma once

#include <string>

namespace dsocr {

/** Kernel ISA levels, in increasing order. */
enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512bf16 = false, avx512vnni = false;
  bool osAvx = false, osAvx512 = false;  // the OS saves the YMM / ZMM state (XCR0)
  std::string model;                     // cpuid brand string ("" when unknown)
};

const CpuFeatures& cpu_features();

/** Highest ISA level this CPU (and OS) can run. */
Isa best_isa();

const char* isa_name(Isa isa);

}  // namespace dsocr
