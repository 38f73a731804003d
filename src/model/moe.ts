/**
 * DeepSeek-MoE feed-forward block (`DeepseekV2MoE` with `topk_method` greedy and softmax
 * scoring), used by every language-model layer at or after `first_k_dense_replace`
 * (spec 6.3, 10.2, 11 item 5). Shared by DeepSeek-OCR v1 and v2.
 *
 * Per token x `[hidden]`:
 * 1. router: logits = x · Wᵀ in f32 (W = `mlp.gate.weight` `[E, hidden]`), scores = softmax(logits) in f32;
 * 2. greedy top-k over the E routed experts (ties: lowest index first, like `torch.topk`);
 *    weights = the raw scores × `routed_scaling_factor` (renormalised first only when `norm_topk_prob`);
 * 3. y = Σ_k w_k · expert_k(x) + shared_experts(x), every expert a SwiGLU MLP
 *    (routed width `moe_intermediate_size`, shared width `moe_intermediate_size × n_shared_experts`).
 *
 * Tokens are grouped by expert, so each routed expert runs one batched linear over all its rows.
 *
 * When the kernel set offers {@link Kernels.fuseMoe} (the native kernels), {@link DeepseekMoe.forward}
 * runs the whole layer as one kernel call with the same arithmetic (native/moe.cc) unless a dump
 * is attached; this TypeScript path stays the reference, is used while dumping, and is forced with
 * `DSOCR_FUSED_MOE=0`.
 */
import type { LanguageConfig } from "../config/types.ts";
import type { FusedMoe, Kernels, Weight } from "../kernels/types.ts";
import type { FeedForward, LoadContext } from "./blocks/context.ts";
import { SwiGluMlp } from "./blocks/mlp.ts";
import type { DumpSink } from "./dump.ts";

/** Dimensions and routing settings of one MoE block (all from the language config, spec 2.2). */
export interface MoeDims {
  /** Model width (`hidden_size`). */
  hidden: number;
  /** Number of routed experts E (`n_routed_experts`). */
  nRoutedExperts: number;
  /** Number of shared experts (`n_shared_experts`); their MLPs are fused into one of width `moeIntermediate × nSharedExperts`. 0 = none. */
  nSharedExperts: number;
  /** Experts chosen per token k (`num_experts_per_tok`). */
  topK: number;
  /** Width of each routed expert (`moe_intermediate_size`). */
  moeIntermediate: number;
  /** Renormalise the k chosen scores to sum 1 before scaling (`norm_topk_prob`). */
  normTopkProb: boolean;
  /** Multiplier of the routing weights (`routed_scaling_factor`). */
  routedScalingFactor: number;
}

/** The MoE dimensions of a language config. */
export function moeDimsFromConfig(cfg: LanguageConfig): MoeDims {
  return {
    hidden: cfg.hiddenSize,
    nRoutedExperts: cfg.nRoutedExperts,
    nSharedExperts: cfg.nSharedExperts,
    topK: cfg.numExpertsPerTok,
    moeIntermediate: cfg.moeIntermediateSize,
    normTopkProb: cfg.normTopkProb,
    routedScalingFactor: cfg.routedScalingFactor,
  };
}

/** Routing decision for m tokens. */
export interface Routing {
  /** Softmax router scores `[m, E]` (f32). */
  scores: Float32Array;
  /** Chosen experts `[m, k]`, sorted ascending within each row. */
  idx: Int32Array;
  /** Routing weights `[m, k]`, aligned with `idx`. */
  weight: Float32Array;
}

/**
 * Greedy top-k selection of each row of `scores` `[m, e]` (spec 6.3 step 2).
 *
 * The k largest scores are chosen; among exactly equal scores the lower expert index wins (as
 * `torch.topk` does on CPU). The result is returned sorted by expert index (the order of the
 * fixtures' `moe.layer*.topk_idx`; the official code's order does not change the output).
 * Weights are the chosen scores (divided by their sum + 1e-20 when `normTopkProb`, as
 * `MoEGate` does), times `scaling`, rounded to f32.
 *
 * @param scores router probabilities `[m, e]`
 * @param m rows
 * @param e experts per row
 * @param k experts to choose, 1 <= k <= e
 * @param normTopkProb renormalise the chosen scores (`norm_topk_prob`)
 * @param scaling `routed_scaling_factor`
 * @returns `idx` `[m, k]` ascending per row and the aligned `weight` `[m, k]`
 * @throws RangeError when k is out of range or `scores.length !== m * e`
 */
export function greedyTopK(
  scores: Float32Array,
  m: number,
  e: number,
  k: number,
  normTopkProb: boolean,
  scaling: number,
): { idx: Int32Array; weight: Float32Array } {
  if (!(k >= 1 && k <= e)) throw new RangeError(`greedyTopK: k = ${k} must be in 1..${e}`);
  if (scores.length !== m * e)
    throw new RangeError(`greedyTopK: scores has ${scores.length} values, expected ${m}x${e}`);
  const idx = new Int32Array(m * k);
  const weight = new Float32Array(m * k);
  const taken = new Uint8Array(e);
  for (let r = 0; r < m; r++) {
    const o = r * e;
    taken.fill(0);
    for (let t = 0; t < k; t++) {
      let best = -1;
      let bestV = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < e; j++) {
        // Strict ">" keeps the lowest index among equal scores; NaN never wins over a number.
        if (!taken[j] && (best < 0 || scores[o + j] > bestV)) {
          best = j;
          bestV = scores[o + j];
        }
      }
      taken[best] = 1;
    }
    // Emit in ascending expert order.
    let t = 0;
    let sum = 0;
    for (let j = 0; j < e; j++) {
      if (taken[j]) {
        idx[r * k + t] = j;
        sum += scores[o + j];
        t++;
      }
    }
    const denom = normTopkProb && k > 1 ? Math.fround(Math.fround(sum) + 1e-20) : 1;
    for (let t2 = 0; t2 < k; t2++) {
      const s = scores[o + idx[r * k + t2]];
      weight[r * k + t2] =
        normTopkProb && k > 1 ? Math.fround(Math.fround(s / denom) * scaling) : Math.fround(s * scaling);
    }
  }
  return { idx, weight };
}

/**
 * The MoE router (`MoEGate`, spec 6.3 steps 1-2): f32 logits x·Wᵀ, softmax over the routed
 * experts, greedy top-k.
 */
export class MoeRouter {
  /**
   * @param k kernel set
   * @param weight `mlp.gate.weight` `[E, hidden]` (bf16 or f32; the product is accumulated in f32)
   * @param dims routing settings
   */
  constructor(
    private readonly k: Kernels,
    readonly weight: Weight,
    readonly dims: MoeDims,
  ) {}

  /**
   * Scores and top-k choice of m tokens.
   * @param x normed hidden states `[m, hidden]`
   * @returns {@link Routing} with scores `[m, E]`, idx/weight `[m, k]`
   */
  route(x: Float32Array, m: number): Routing {
    const { nRoutedExperts: e, topK, normTopkProb, routedScalingFactor } = this.dims;
    const scores = this.k.linear(x, m, this.weight, null);
    this.k.softmax(scores, m, e);
    const { idx, weight } = greedyTopK(scores, m, e, topK, normTopkProb, routedScalingFactor);
    return { scores, idx, weight };
  }
}

/**
 * DeepSeek-MoE block `[m, hidden] -> [m, hidden]` (spec 6.3): router, routed SwiGLU experts
 * grouped by expert, plus the fused shared experts.
 */
export class DeepseekMoe implements FeedForward {
  /**
   * While set, every forward dumps `<prefix>.router_scores` `[m, E]`, `<prefix>.topk_idx` `[m, k]`
   * (Int32) and `<prefix>.topk_weight` `[m, k]` to `sink`. The language model sets it (prefix
   * `moe.layer{i}` in prefill) for the duration of a call that was given a dumper, then clears it.
   */
  dump: { sink: DumpSink; prefix: string } | undefined = undefined;

  /** The fused layer: undefined = not created yet, null = not available for these weights. */
  private fused: FusedMoe | null | undefined = undefined;

  /**
   * @param k kernel set
   * @param layerIndex decoder layer index (informative)
   * @param router the gate
   * @param experts the E routed experts, index = expert id
   * @param shared the fused shared experts, or null when `n_shared_experts` is 0
   */
  constructor(
    private readonly k: Kernels,
    readonly layerIndex: number,
    readonly router: MoeRouter,
    readonly experts: SwiGluMlp[],
    readonly shared: SwiGluMlp | null,
  ) {
    if (experts.length !== router.dims.nRoutedExperts) {
      throw new RangeError(`DeepseekMoe: ${experts.length} experts, config says ${router.dims.nRoutedExperts}`);
    }
  }

  /**
   * Reads `<prefix>.gate.weight` `[E, hidden]`, `<prefix>.experts.{0..E-1}.{gate,up,down}_proj.weight`
   * (`[moeIntermediate, hidden]`, `[moeIntermediate, hidden]`, `[hidden, moeIntermediate]`) and
   * `<prefix>.shared_experts.{gate,up,down}_proj.weight` (width `moeIntermediate × nSharedExperts`).
   * @param prefix e.g. `model.layers.1.mlp`
   * @param layerIndex decoder layer index (informative)
   * @throws CheckpointError when a tensor is missing or has another shape
   */
  static load(ctx: LoadContext, prefix: string, dims: MoeDims, layerIndex: number): DeepseekMoe {
    const gate = ctx.ckpt.readWeight(`${prefix}.gate.weight`, [dims.nRoutedExperts, dims.hidden]);
    const experts: SwiGluMlp[] = [];
    for (let e = 0; e < dims.nRoutedExperts; e++) {
      experts.push(SwiGluMlp.load(ctx, `${prefix}.experts.${e}`, dims.hidden, dims.moeIntermediate));
    }
    const shared =
      dims.nSharedExperts > 0
        ? SwiGluMlp.load(ctx, `${prefix}.shared_experts`, dims.hidden, dims.moeIntermediate * dims.nSharedExperts)
        : null;
    return new DeepseekMoe(ctx.k, layerIndex, new MoeRouter(ctx.k, gate, dims), experts, shared);
  }

  /** Routing settings. */
  get dims(): MoeDims {
    return this.router.dims;
  }

  /**
   * x `[m, hidden]` (already normed by `post_attention_layernorm`) -> new `[m, hidden]`.
   * Dumps the routing when {@link dump} is set.
   */
  forward(x: Float32Array, m: number): Float32Array {
    if (!this.dump) {
      const f = this.fusedLayer();
      if (f) {
        const { hidden } = this.dims;
        if (x.length !== m * hidden)
          throw new RangeError(`DeepseekMoe: x has ${x.length} values, expected ${m}x${hidden}`);
        return f.forward(x, m);
      }
    }
    return this.forwardRouted(x, m).out;
  }

  /**
   * The kernel set's fused version of this layer (created on first use), or null when the kernels
   * have none, cannot run these weights fused, or `DSOCR_FUSED_MOE=0`.
   */
  fusedLayer(): FusedMoe | null {
    if (this.fused !== undefined) return this.fused;
    const gate = this.router.weight;
    const d = this.dims;
    const mlp = (e: SwiGluMlp) => ({ gate: e.gate.weight, up: e.up.weight, down: e.down.weight });
    this.fused =
      process.env.DSOCR_FUSED_MOE === "0" || !this.k.fuseMoe || gate.dtype === "packed"
        ? null
        : this.k.fuseMoe({
            hidden: d.hidden,
            topK: d.topK,
            normTopkProb: d.normTopkProb,
            routedScalingFactor: d.routedScalingFactor,
            gate,
            experts: this.experts.map(mlp),
            shared: this.shared ? mlp(this.shared) : null,
          });
    return this.fused;
  }

  /**
   * Like {@link forward}, also returning the routing decision.
   * @param x `[m, hidden]`
   * @returns out `[m, hidden]` and the {@link Routing} of the m rows
   * @throws RangeError when `x.length !== m * hidden`
   */
  forwardRouted(x: Float32Array, m: number): { out: Float32Array; routing: Routing } {
    const { hidden, nRoutedExperts: e, topK } = this.dims;
    if (x.length !== m * hidden) throw new RangeError(`DeepseekMoe: x has ${x.length} values, expected ${m}x${hidden}`);
    const routing = this.router.route(x, m);
    const { idx, weight } = routing;
    if (this.dump) {
      const { sink, prefix } = this.dump;
      sink.put(`${prefix}.router_scores`, routing.scores, [m, e]);
      sink.put(`${prefix}.topk_idx`, idx, [m, topK]);
      sink.put(`${prefix}.topk_weight`, weight, [m, topK]);
    }

    // Group (row, weight) pairs by expert: counting sort over the m*k choices.
    const counts = new Int32Array(e + 1);
    for (let i = 0; i < m * topK; i++) counts[idx[i] + 1]++;
    for (let j = 0; j < e; j++) counts[j + 1] += counts[j];
    const rowsOf = new Int32Array(m * topK);
    const wOf = new Float32Array(m * topK);
    const fill = counts.slice(0, e);
    for (let r = 0; r < m; r++) {
      for (let t = 0; t < topK; t++) {
        const j = idx[r * topK + t];
        const p = fill[j]++;
        rowsOf[p] = r;
        wOf[p] = weight[r * topK + t];
      }
    }

    // Routed experts: one batched SwiGLU per expert over its gathered rows, weighted scatter-add.
    const acc = new Float32Array(m * hidden);
    for (let j = 0; j < e; j++) {
      const start = counts[j];
      const n = counts[j + 1] - start;
      if (n === 0) continue;
      const xs = new Float32Array(n * hidden);
      for (let i = 0; i < n; i++) {
        const r = rowsOf[start + i];
        xs.set(x.subarray(r * hidden, (r + 1) * hidden), i * hidden);
      }
      const ys = this.experts[j].forward(xs, n);
      for (let i = 0; i < n; i++) {
        const r = rowsOf[start + i];
        const w = wOf[start + i];
        const yo = i * hidden;
        const ao = r * hidden;
        for (let c = 0; c < hidden; c++) acc[ao + c] += w * ys[yo + c];
      }
    }

    if (this.shared) this.k.add(acc, this.shared.forward(x, m));
    return { out: acc, routing };
  }
}
