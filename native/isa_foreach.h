// Includes the kernel implementation file named by DSOCR_INL once per ISA, each time in its own
// namespace (dsocr::isa_scalar / isa_avx2 / isa_avx512) with `DSOCR_VEC` naming that ISA's vector
// type from simd.h. The AVX2 and AVX-512 copies sit inside `#pragma GCC target(...)` regions, which
// give every function defined there (templates and lambdas included) that target attribute; the
// rest of the binary stays baseline x86-64, and cpu.cc decides at run time which copy runs.
// No include guard: meant to be included once per .cc file, after `#define DSOCR_INL "x-inl.h"`.
#include "simd.h"

#define DSOCR_NS isa_scalar
#define DSOCR_VEC ::dsocr::simd::VScalar
#include DSOCR_INL
#undef DSOCR_NS
#undef DSOCR_VEC

#if DSOCR_X86
DSOCR_BEGIN_AVX2
#define DSOCR_NS isa_avx2
#define DSOCR_VEC ::dsocr::simd::VAvx2
#include DSOCR_INL
#undef DSOCR_NS
#undef DSOCR_VEC
DSOCR_END_TARGET

DSOCR_BEGIN_AVX512
#define DSOCR_NS isa_avx512
#define DSOCR_VEC ::dsocr::simd::VAvx512
#include DSOCR_INL
#undef DSOCR_NS
#undef DSOCR_VEC
DSOCR_END_TARGET
#endif

// DSOCR_DISPATCH(isa, fn, args...): calls isa_<level>::fn(args...).
#if DSOCR_X86
#define DSOCR_DISPATCH(isa, fn, ...)              \
  do {                                            \
    switch (isa) {                                \
      case ::dsocr::Isa::Avx512:                  \
        ::dsocr::isa_avx512::fn(__VA_ARGS__);     \
        break;                                    \
      case ::dsocr::Isa::Avx2:                    \
        ::dsocr::isa_avx2::fn(__VA_ARGS__);       \
        break;                                    \
      default:                                    \
        ::dsocr::isa_scalar::fn(__VA_ARGS__);     \
    }                                             \
  } while (0)
#else
#define DSOCR_DISPATCH(isa, fn, ...) ::dsocr::isa_scalar::fn(__VA_ARGS__)
#endif
