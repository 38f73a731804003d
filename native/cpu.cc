#include "cpu.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define DSOCR_CPU_X86 1
#else
#define DSOCR_CPU_X86 0
#endif

namespace dsocr {

namespace {

#if DSOCR_CPU_X86
uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if DSOCR_CPU_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  unsigned maxLeaf = __get_cpuid_max(0, nullptr);
  if (maxLeaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
    f.fma = (c >> 12) & 1;
    f.f16c = (c >> 29) & 1;
    bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (osxsave && avx) {
      uint64_t xcr0 = xgetbv0();
      f.osAvx = (xcr0 & 0x6) == 0x6;
      f.osAvx512 = f.osAvx && (xcr0 & 0xe0) == 0xe0;
    }
  }
  if (maxLeaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    unsigned maxSub = a;
    f.avx2 = (b >> 5) & 1;
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512vnni = (c >> 11) & 1;
    if (maxSub >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      f.avx512bf16 = (a >> 5) & 1;
    }
  }
  unsigned maxExt = __get_cpuid_max(0x80000000u, nullptr);
  if (maxExt >= 0x80000004u) {
    char brand[49] = {0};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002u + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    std::string s(brand);
    size_t first = s.find_first_not_of(' ');
    size_t last = s.find_last_not_of(' ');
    f.model = first == std::string::npos ? "" : s.substr(first, last - first + 1);
  }
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa best_isa() {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c && f.osAvx)) return Isa::Scalar;
  if (f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.osAvx512) return Isa::Avx512;
  return Isa::Avx2;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

}  // namespace dsocr
