// The fused DeepSeek-MoE layer (one native call per layer; see moe.cc) and a streaming-read
// kernel for bandwidth measurements.
#pragma once

#include <vector>

#include "packed.h"

namespace dsocr {

/** A matmul weight of the MoE: plain (bf16 / f32) or packed (any format). */
struct MoeWeight {
  const Packed* packed = nullptr;  // non-null: packed (not owned)
  WeightRef plain{nullptr, false, 0, 0};
  size_t rows() const { return packed ? packed->rows : plain.rows; }
  size_t cols() const { return packed ? packed->cols : plain.cols; }
};

/**
 * One MoE layer. The weight memory is not owned: the creator keeps it alive (the TypeScript
 * DeepseekMoe holds the arrays / packed handles for the layer's lifetime).
 */
struct MoeLayer {
  size_t hidden = 0, experts = 0, top_k = 0, inter = 0, shared_inter = 0;
  bool norm_topk = false;
  double scaling = 1.0;
  WeightRef gate{nullptr, false, 0, 0};  // router [experts, hidden], plain
  std::vector<MoeWeight> w;              // gate, up, down of expert 0 .. experts-1, then of the shared MLP
  bool has_shared = false;
};

/**
 * out[m, hidden] = MoE(x[m, hidden]) exactly as src/model/moe.ts computes it. Optional outputs:
 * scores [m, experts] (router softmax), idx / weight [m, top_k] (chosen experts ascending, weights).
 */
void moe_forward(Isa isa, const MoeLayer& L, const float* x, size_t m, float* out, float* scores, int32_t* idx,
                 float* weight);

}  // namespace dsocr
