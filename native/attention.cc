// attention: softmax(scale q k^T + mask + relpos) v (see attention-inl.h).
#include "bf16_dot_tile.h"
#include "kernels.h"
#include "pack_bf16.h"
#include "pool.h"

#define DSOCR_INL "attention-inl.h"
#include "isa_foreach.h"

namespace dsocr {

void attention(Isa isa, const AttentionArgs& args) {
  AttentionArgs a = args;
  a.bf16_dot = a.bf16_products && isa == Isa::Avx512 && bf16_dot_enabled();
  DSOCR_DISPATCH(isa, attention, a);
}

}  // namespace dsocr
