// attention: softmax(scale q k^T + mask + relpos) v (see attention-inl.h).
#include "kernels.h"
#include "pool.h"

#define DSOCR_INL "attention-inl.h"
#include "isa_foreach.h"

namespace dsocr {

void attention(Isa isa, const AttentionArgs& a) { DSOCR_DISPATCH(isa, attention, a); }

}  // namespace dsocr
