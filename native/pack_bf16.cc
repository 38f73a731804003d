// The BF16 packed format: packing (ISA independent) and the per-ISA GEMM (gemm_bf16-inl.h).
#include "pack_bf16.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "bf16_dot_tile.h"
#include "gemv_bf16.h"
#include "pool.h"
#include "simd.h"
#include "weight_alloc.h"

// Like isa_foreach.h, plus DSOCR_BF16_LEVEL (the kernels use ISA-specific integer intrinsics).
#define DSOCR_BF16_LEVEL 0
#define DSOCR_NS isa_scalar
#define DSOCR_VEC ::dsocr::simd::VScalar
#include "gemm_bf16-inl.h"
#undef DSOCR_NS
#undef DSOCR_VEC
#undef DSOCR_BF16_LEVEL

#if DSOCR_X86
DSOCR_BEGIN_AVX2
#define DSOCR_BF16_LEVEL 1
#define DSOCR_NS isa_avx2
#define DSOCR_VEC ::dsocr::simd::VAvx2
#include "gemm_bf16-inl.h"
#undef DSOCR_NS
#undef DSOCR_VEC
#undef DSOCR_BF16_LEVEL
DSOCR_END_TARGET

DSOCR_BEGIN_AVX512
#define DSOCR_BF16_LEVEL 2
#define DSOCR_NS isa_avx512
#define DSOCR_VEC ::dsocr::simd::VAvx512
#include "gemm_bf16-inl.h"
#undef DSOCR_NS
#undef DSOCR_VEC
#undef DSOCR_BF16_LEVEL
DSOCR_END_TARGET
#endif

namespace dsocr {

namespace {

std::atomic<bool> g_dot{true};

inline uint32_t rne(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// Row n of the source, value k, as bf16 bits (f32 rounded to nearest even).
template <class S>
inline uint32_t bits(const S* row, size_t k);
template <>
inline uint32_t bits<uint16_t>(const uint16_t* row, size_t k) {
  return row[k];
}
template <>
inline uint32_t bits<float>(const float* row, size_t k) {
  return rne(row[k]);
}

template <class S>
void pack_panels(const S* src, size_t N, size_t K, uint32_t* dst) {
  const size_t KP = (K + 1) / 2, npan = (N + kBf16PanelN - 1) / kBf16PanelN;
  pool::parallel_for(npan, [&](size_t p) {
    uint32_t* d = dst + p * KP * kBf16PanelN;
    for (size_t j = 0; j < kBf16PanelN; ++j) {
      const size_t n = p * kBf16PanelN + j;
      if (n >= N) {
        for (size_t kp = 0; kp < KP; ++kp) d[kp * kBf16PanelN + j] = 0;
        continue;
      }
      const S* row = src + n * K;
      const size_t full = K / 2;
      for (size_t kp = 0; kp < full; ++kp)
        d[kp * kBf16PanelN + j] = bits(row, 2 * kp) | (bits(row, 2 * kp + 1) << 16);
      if (K & 1) d[full * kBf16PanelN + j] = bits(row, K - 1);
    }
  });
}

}  // namespace

void set_bf16_dot(bool on) { g_dot.store(on); }

bool bf16_dot_available() {
  const CpuFeatures& f = cpu_features();
  return f.avx512bf16 && f.osAvx512 && best_isa() == Isa::Avx512;
}

bool bf16_dot_enabled() { return g_dot.load() && bf16_dot_available(); }

Packed* pack_bf16(const WeightRef& src) {
  const size_t N = src.rows, K = src.cols;
  const PackedSizes z = packed_sizes(PackFmt::BF16, N, K, 0);
  const size_t bytes = z.bytes, alloc = z.data_alloc;
  void* data = weight_alloc(alloc);
  if (!data) return nullptr;
  Packed* p = new (std::nothrow) Packed;
  if (!p) {
    weight_free(data, alloc);
    return nullptr;
  }
  p->data_alloc = alloc;
  p->fmt = PackFmt::BF16;
  p->rows = N;
  p->cols = K;
  p->bytes = bytes;
  p->data = data;
  if (src.bf16) {
    pack_panels(static_cast<const uint16_t*>(src.data), N, K, static_cast<uint32_t*>(data));
  } else {
    pack_panels(static_cast<const float*>(src.data), N, K, static_cast<uint32_t*>(data));
  }
  return p;
}

void linear_bf16(Isa isa, const float* x, size_t m, const Packed& w, const float* bias, float* y) {
  if (linear_bf16_small(isa, x, m, w, bias, y)) return;  // decode: gemv_bf16.cc
  const bool dot = g_dot.load() && bf16_dot_available();
  switch (isa) {
#if DSOCR_X86
    case Isa::Avx512:
      isa_avx512::linear_bf16_level(x, m, w, bias, y, dot);
      break;
    case Isa::Avx2:
      isa_avx2::linear_bf16_level(x, m, w, bias, y, dot);
      break;
#endif
    default:
      isa_scalar::linear_bf16_level(x, m, w, bias, y, dot);
  }
}

}  // namespace dsocr
