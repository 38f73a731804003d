// gelu, quickGelu, silu, swiglu, add, round_bf16 (see act-inl.h).
#include "kernels.h"
#include "pool.h"

#define DSOCR_INL "act-inl.h"
#include "isa_foreach.h"

namespace dsocr {

void gelu(Isa isa, float* x, size_t n) { DSOCR_DISPATCH(isa, gelu, x, n); }
void quick_gelu(Isa isa, float* x, size_t n) { DSOCR_DISPATCH(isa, quick_gelu, x, n); }
void silu(Isa isa, float* x, size_t n) { DSOCR_DISPATCH(isa, silu, x, n); }
void swiglu(Isa isa, float* gate, const float* up, size_t n) { DSOCR_DISPATCH(isa, swiglu, gate, up, n); }
void add(Isa isa, float* a, const float* b, size_t n) { DSOCR_DISPATCH(isa, add, a, b, n); }
void round_bf16(Isa isa, const float* x, size_t n, uint16_t* out) { DSOCR_DISPATCH(isa, round_bf16, x, n, out); }

}  // namespace dsocr
