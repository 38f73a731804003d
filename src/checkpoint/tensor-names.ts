/**
 * The checkpoint's tensor names and shapes derived from a {@link ModelConfig}, exactly as
 * ../shared/spec/tensor-names.md lists them at real size (the same formulas give the tiny fixture
 * models' tensors). Shapes follow PyTorch: Linear [out, in], Conv2d [out, in, kH, kW].
 */
import type { ModelConfig } from "../config/types.ts";
import type { DType } from "./types.ts";

/** Name, shape and dtype of one checkpoint tensor. */
export interface CheckpointTensor {
  name: string;
  shape: number[];
  dtype: DType;
}

/** Learned query rows of the Qwen2 encoder: `query_768` (12x12 tile tokens) and `query_1024` (16x16 global). */
export const QWEN2_QUERY_ROWS: Readonly<Record<"query_768" | "query_1024", number>> = Object.freeze({
  query_768: 144,
  query_1024: 256,
});

/** CLIP-L `patch_embedding` kernel size (unused at inference, present in the checkpoint). */
export const CLIP_PATCH = 14;

/** True when decoder layer `i` has a MoE MLP (DeepseekV2: i >= first_k_dense_replace and i % moe_layer_freq == 0). */
export function isMoeLayer(cfg: ModelConfig, i: number): boolean {
  const l = cfg.language;
  return l.nRoutedExperts > 0 && i >= l.firstKDenseReplace && i % l.moeLayerFreq === 0;
}

/**
 * Every tensor of the checkpoint, in module order (SAM, Qwen2 encoder or CLIP, projector and separators,
 * language model), spec tensor-names.md. v2 real size: 2707 tensors, 3 389 119 360 parameters;
 * v1: 2710 tensors, 3 336 106 240 parameters.
 *
 * @param cfg parsed config
 * @param dtype dtype to attach to every tensor (default "BF16", as the real checkpoints)
 */
export function checkpointTensors(cfg: ModelConfig, dtype: DType = "BF16"): CheckpointTensor[] {
  const out: CheckpointTensor[] = [];
  const add = (name: string, shape: number[]) => out.push({ name, shape, dtype });

  // SAM ViT-B (spec 5.1)
  const s = cfg.sam;
  const D = s.embedDim;
  const grid = s.imgSize / s.patchSize;
  const headDim = D / s.numHeads;
  const mlp = D * s.mlpRatio;
  const p = "model.sam_model";
  add(`${p}.pos_embed`, [1, grid, grid, D]);
  add(`${p}.patch_embed.proj.weight`, [D, 3, s.patchSize, s.patchSize]);
  add(`${p}.patch_embed.proj.bias`, [D]);
  for (let i = 0; i < s.depth; i++) {
    const b = `${p}.blocks.${i}`;
    const relRows = s.globalAttnIndexes.includes(i) ? 2 * grid - 1 : 2 * s.windowSize - 1;
    add(`${b}.norm1.weight`, [D]);
    add(`${b}.norm1.bias`, [D]);
    add(`${b}.attn.rel_pos_h`, [relRows, headDim]);
    add(`${b}.attn.rel_pos_w`, [relRows, headDim]);
    add(`${b}.attn.qkv.weight`, [3 * D, D]);
    add(`${b}.attn.qkv.bias`, [3 * D]);
    add(`${b}.attn.proj.weight`, [D, D]);
    add(`${b}.attn.proj.bias`, [D]);
    add(`${b}.norm2.weight`, [D]);
    add(`${b}.norm2.bias`, [D]);
    add(`${b}.mlp.lin1.weight`, [mlp, D]);
    add(`${b}.mlp.lin1.bias`, [mlp]);
    add(`${b}.mlp.lin2.weight`, [D, mlp]);
    add(`${b}.mlp.lin2.bias`, [D]);
  }
  const oc = s.outChans;
  add(`${p}.neck.0.weight`, [oc, D, 1, 1]);
  add(`${p}.neck.1.weight`, [oc]);
  add(`${p}.neck.1.bias`, [oc]);
  add(`${p}.neck.2.weight`, [oc, oc, 3, 3]);
  add(`${p}.neck.3.weight`, [oc]);
  add(`${p}.neck.3.bias`, [oc]);
  const [c2, c3] = s.downsampleChannels;
  add(`${p}.net_2.weight`, [c2, oc, 3, 3]);
  add(`${p}.net_3.weight`, [c3, c2, 3, 3]);

  if (cfg.version === "v2") {
    // Qwen2 decoder-as-encoder (spec 5.2)
    const q = cfg.qwen2!;
    const H = q.hiddenSize;
    const kv = q.numKeyValueHeads * (H / q.numAttentionHeads);
    const I = q.intermediateSize;
    for (let i = 0; i < q.numHiddenLayers; i++) {
      const l = `model.qwen2_model.model.model.layers.${i}`;
      add(`${l}.self_attn.q_proj.weight`, [H, H]);
      add(`${l}.self_attn.q_proj.bias`, [H]);
      add(`${l}.self_attn.k_proj.weight`, [kv, H]);
      add(`${l}.self_attn.k_proj.bias`, [kv]);
      add(`${l}.self_attn.v_proj.weight`, [kv, H]);
      add(`${l}.self_attn.v_proj.bias`, [kv]);
      add(`${l}.self_attn.o_proj.weight`, [H, H]);
      add(`${l}.mlp.gate_proj.weight`, [I, H]);
      add(`${l}.mlp.up_proj.weight`, [I, H]);
      add(`${l}.mlp.down_proj.weight`, [H, I]);
      add(`${l}.input_layernorm.weight`, [H]);
      add(`${l}.post_attention_layernorm.weight`, [H]);
    }
    add("model.qwen2_model.model.model.norm.weight", [H]);
    add("model.qwen2_model.query_768.weight", [QWEN2_QUERY_ROWS.query_768, H]);
    add("model.qwen2_model.query_1024.weight", [QWEN2_QUERY_ROWS.query_1024, H]);
  } else {
    // CLIP-L (spec 7.3)
    const c = cfg.clip!;
    const C = c.hiddenSize;
    const F = c.ffnHiddenSize;
    const v = "model.vision_model";
    add(`${v}.embeddings.class_embedding`, [C]);
    add(`${v}.embeddings.patch_embedding.weight`, [C, 3, CLIP_PATCH, CLIP_PATCH]);
    add(`${v}.embeddings.position_embedding.weight`, [c.numPositions, C]);
    for (let i = 0; i < c.numLayers; i++) {
      const l = `${v}.transformer.layers.${i}`;
      add(`${l}.self_attn.qkv_proj.weight`, [3 * C, C]);
      add(`${l}.self_attn.qkv_proj.bias`, [3 * C]);
      add(`${l}.self_attn.out_proj.weight`, [C, C]);
      add(`${l}.self_attn.out_proj.bias`, [C]);
      add(`${l}.mlp.fc1.weight`, [F, C]);
      add(`${l}.mlp.fc1.bias`, [F]);
      add(`${l}.mlp.fc2.weight`, [C, F]);
      add(`${l}.mlp.fc2.bias`, [C]);
      add(`${l}.layer_norm1.weight`, [C]);
      add(`${l}.layer_norm1.bias`, [C]);
      add(`${l}.layer_norm2.weight`, [C]);
      add(`${l}.layer_norm2.bias`, [C]);
    }
    add(`${v}.pre_layrnorm.weight`, [C]);
    add(`${v}.pre_layrnorm.bias`, [C]);
  }

  // Projector and separators (spec 5.3, 5.4, 7.4)
  const pr = cfg.projector;
  add("model.projector.layers.weight", [pr.nEmbed, pr.inputDim]);
  add("model.projector.layers.bias", [pr.nEmbed]);
  if (cfg.version === "v1") add("model.image_newline", [pr.nEmbed]);
  add("model.view_seperator", [pr.nEmbed]);

  // Language model (spec 6)
  const L = cfg.language;
  const H = L.hiddenSize;
  const hd = H / L.numAttentionHeads;
  add("model.embed_tokens.weight", [L.vocabSize, H]);
  add("model.norm.weight", [H]);
  add("lm_head.weight", [L.vocabSize, H]);
  for (let i = 0; i < L.numHiddenLayers; i++) {
    const l = `model.layers.${i}`;
    add(`${l}.self_attn.q_proj.weight`, [L.numAttentionHeads * hd, H]);
    add(`${l}.self_attn.k_proj.weight`, [L.numKeyValueHeads * hd, H]);
    add(`${l}.self_attn.v_proj.weight`, [L.numKeyValueHeads * hd, H]);
    add(`${l}.self_attn.o_proj.weight`, [H, L.numAttentionHeads * hd]);
    if (L.attentionBias) {
      add(`${l}.self_attn.q_proj.bias`, [L.numAttentionHeads * hd]);
      add(`${l}.self_attn.k_proj.bias`, [L.numKeyValueHeads * hd]);
      add(`${l}.self_attn.v_proj.bias`, [L.numKeyValueHeads * hd]);
      add(`${l}.self_attn.o_proj.bias`, [H]);
    }
    add(`${l}.input_layernorm.weight`, [H]);
    add(`${l}.post_attention_layernorm.weight`, [H]);
    if (!isMoeLayer(cfg, i)) {
      add(`${l}.mlp.gate_proj.weight`, [L.intermediateSize, H]);
      add(`${l}.mlp.up_proj.weight`, [L.intermediateSize, H]);
      add(`${l}.mlp.down_proj.weight`, [H, L.intermediateSize]);
    } else {
      const E = L.moeIntermediateSize;
      add(`${l}.mlp.gate.weight`, [L.nRoutedExperts, H]);
      if (L.nSharedExperts > 0) {
        const S = E * L.nSharedExperts;
        add(`${l}.mlp.shared_experts.gate_proj.weight`, [S, H]);
        add(`${l}.mlp.shared_experts.up_proj.weight`, [S, H]);
        add(`${l}.mlp.shared_experts.down_proj.weight`, [H, S]);
      }
      for (let e = 0; e < L.nRoutedExperts; e++) {
        const x = `${l}.mlp.experts.${e}`;
        add(`${x}.gate_proj.weight`, [E, H]);
        add(`${x}.up_proj.weight`, [E, H]);
        add(`${x}.down_proj.weight`, [H, E]);
      }
    }
  }
  return out;
}
