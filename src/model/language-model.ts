/**
 * The DeepSeek-MoE language model shared by DeepSeek-OCR v1 and v2 (spec 6, `modeling_deepseekv2.py`
 * with `use_mla: false`): `embed_tokens`, `num_hidden_layers` pre-norm decoder layers (Llama MHA with
 * rotate-half RoPE, causal; dense SwiGLU MLP below `first_k_dense_replace`, DeepSeek-MoE above),
 * final RMSNorm, `lm_head` (not tied). No vision assumptions: prefill takes ready-made input
 * embeddings (token embeddings with the image rows already scattered in by the caller).
 *
 * Inference is per sequence: an {@link LmState} holds one {@link KvCache} per layer and the next
 * absolute position. {@link LanguageModel.prefill} appends m rows and returns the logits of the
 * last one; {@link LanguageModel.decode} appends one token and returns its logits; positions
 * continue (spec 6.2, 8.1). {@link LanguageModel.decodeBatch} appends one token to each of several
 * sequences in one pass (shared weight reads; each sequence keeps its own state).
 */
import type { LanguageConfig } from "../config/types.ts";
import { weightRow } from "../kernels/reference.ts";
import type { Kernels, Precision, Weight } from "../kernels/types.ts";
import { SelfAttention } from "./blocks/attention.ts";
import type { FeedForward, LoadContext } from "./blocks/context.ts";
import { DecoderLayer } from "./blocks/decoder-layer.ts";
import { type Bf16Rounder, KvCache, type KvDtype } from "./blocks/kv-cache.ts";
import { Linear } from "./blocks/linear.ts";
import { SwiGluMlp } from "./blocks/mlp.ts";
import { RmsNorm } from "./blocks/norm.ts";
import type { Dumper } from "./dump.ts";
import { DeepseekMoe, moeDimsFromConfig } from "./moe.ts";

/** Prefill rows sampled for the `lm.layer{i}.out.rows` dumps: every `LM_ROWS_STRIDE`-th position and the last. */
export const LM_ROWS_STRIDE = 16;

/**
 * The prefill rows the fixtures sample (`lm.rows`): positions 0, 16, 32, ... below m, plus m - 1.
 * @param m prefill length (>= 1)
 * @returns ascending row indices `[R]`
 */
export function lmDumpRows(m: number): Int32Array {
  const rows: number[] = [];
  for (let i = 0; i < m; i += LM_ROWS_STRIDE) rows.push(i);
  if (m > 0 && rows[rows.length - 1] !== m - 1) rows.push(m - 1);
  return Int32Array.from(rows);
}

/** True when layer `i` uses the MoE block (`DeepseekV2DecoderLayer`'s rule, spec 6.3). */
export function isMoeLayer(cfg: LanguageConfig, i: number): boolean {
  return cfg.nRoutedExperts > 0 && i >= cfg.firstKDenseReplace && i % Math.max(1, cfg.moeLayerFreq) === 0;
}

/**
 * The KV-cache dtype of a precision: `f32` keeps K/V in f32 (the parity path, unchanged); `bf16`
 * and `int8` (whose non-weight math follows bf16) keep them in bf16, as the official bf16 runs do
 * (spec 6.4).
 */
export function kvDtypeFor(precision: Precision): KvDtype {
  return precision === "f32" ? "f32" : "bf16";
}

/**
 * Per-sequence inference state: one KV cache per decoder layer (keys after RoPE and values,
 * `[tokens, kvHeads * headDim]` each, spec 6.4) and the next absolute position.
 */
export class LmState {
  /** One cache per decoder layer. */
  readonly caches: KvCache[];
  /** Absolute position of the next row (= rows already in the caches). */
  position = 0;
  /** Decode calls made so far (names the `logits.step{n}` dumps: the first decode is step 1). */
  decodeSteps = 0;

  /**
   * @param layers number of decoder layers
   * @param kvWidth kvHeads * headDim
   * @param capacity initial cache rows (the caches grow by doubling)
   * @param kvDtype storage type of the caches (default f32)
   * @param round bf16 rounding of a bf16 cache's rows (default: src/util/bf16.ts)
   */
  constructor(layers: number, kvWidth: number, capacity = 256, kvDtype: KvDtype = "f32", round?: Bf16Rounder) {
    this.caches = [];
    for (let i = 0; i < layers; i++) this.caches.push(new KvCache(kvWidth, Math.max(1, capacity), kvDtype, round));
  }
}

/** Options of {@link LanguageModel.forwardLayers}. */
export interface ForwardOptions {
  /** Receives the intermediates (see forwardLayers). */
  dumper?: Dumper;
  /** Dump-name prefix of layer i's routing; default `moe.layer{i}`. */
  moePrefix?: (layer: number) => string;
  /** Dump `lm.rows` and `lm.layer{i}.out.rows` (default true when a dumper is given). */
  dumpRows?: boolean;
}

/** DeepSeek-MoE causal language model (spec 6). */
export class LanguageModel {
  /** Per-head width = hidden / heads. */
  readonly headDim: number;

  /**
   * @param k kernel set
   * @param config language config (all dimensions come from here)
   * @param embedTokens `model.embed_tokens.weight` `[vocab, hidden]` (bf16 rows are widened on lookup)
   * @param layers the decoder layers, in order
   * @param norm final RMSNorm `model.norm`
   * @param lmHead `lm_head` `[vocab, hidden]`, no bias
   * @param kvDtype KV-cache storage of the states {@link newState} creates ({@link kvDtypeFor} of the
   *   load precision; default f32)
   */
  constructor(
    private readonly k: Kernels,
    readonly config: LanguageConfig,
    readonly embedTokens: Weight,
    readonly layers: DecoderLayer[],
    readonly norm: RmsNorm,
    readonly lmHead: Linear,
    readonly kvDtype: KvDtype = "f32",
  ) {
    this.headDim = config.hiddenSize / config.numAttentionHeads;
  }

  /**
   * Reads every LM tensor: `model.embed_tokens.weight`, `model.layers.{i}.{input_layernorm,
   * post_attention_layernorm}.weight`, `model.layers.{i}.self_attn.{q,k,v,o}_proj.weight`,
   * `model.layers.{i}.mlp.*` (dense `{gate,up,down}_proj` or MoE `gate`, `experts.{e}.*`,
   * `shared_experts.*`), `model.norm.weight`, `lm_head.weight` (tensor-names.md).
   * @throws CheckpointError when a tensor is missing or has another shape
   * @throws RangeError when the config is inconsistent (hidden not divisible by heads, heads not a
   *   multiple of kv heads) or asks for an unsupported variant (MLA, non-greedy top-k, non-softmax scoring)
   */
  static load(ctx: LoadContext, cfg: LanguageConfig): LanguageModel {
    const hidden = cfg.hiddenSize;
    if (cfg.useMla) throw new RangeError("LanguageModel: use_mla true is not supported (spec 6.2)");
    if (cfg.topkMethod !== "greedy")
      throw new RangeError(`LanguageModel: topk_method ${cfg.topkMethod} is not supported`);
    if (cfg.scoringFunc !== "softmax")
      throw new RangeError(`LanguageModel: scoring_func ${cfg.scoringFunc} is not supported`);
    if (hidden % cfg.numAttentionHeads !== 0) {
      throw new RangeError(`LanguageModel: hidden_size ${hidden} is not divisible by ${cfg.numAttentionHeads} heads`);
    }
    if (cfg.numAttentionHeads % cfg.numKeyValueHeads !== 0) {
      throw new RangeError(
        `LanguageModel: ${cfg.numAttentionHeads} heads are not a multiple of ${cfg.numKeyValueHeads} kv heads`,
      );
    }
    const embed = ctx.ckpt.readWeight("model.embed_tokens.weight", [cfg.vocabSize, hidden]);
    const moeDims = moeDimsFromConfig(cfg);
    const layers: DecoderLayer[] = [];
    for (let i = 0; i < cfg.numHiddenLayers; i++) {
      const p = `model.layers.${i}`;
      const attn = SelfAttention.load(ctx, `${p}.self_attn`, {
        hidden,
        heads: cfg.numAttentionHeads,
        kvHeads: cfg.numKeyValueHeads,
        ropeTheta: cfg.ropeTheta,
        qkvBias: cfg.attentionBias,
      });
      const ffn: FeedForward = isMoeLayer(cfg, i)
        ? DeepseekMoe.load(ctx, `${p}.mlp`, moeDims, i)
        : SwiGluMlp.load(ctx, `${p}.mlp`, hidden, cfg.intermediateSize);
      layers.push(
        new DecoderLayer(
          RmsNorm.load(ctx, `${p}.input_layernorm`, hidden, cfg.rmsNormEps),
          attn,
          RmsNorm.load(ctx, `${p}.post_attention_layernorm`, hidden, cfg.rmsNormEps),
          ffn,
        ),
      );
    }
    const norm = RmsNorm.load(ctx, "model.norm", hidden, cfg.rmsNormEps);
    const lmHead = Linear.load(ctx, "lm_head", hidden, cfg.vocabSize, false);
    return new LanguageModel(ctx.k, cfg, embed, layers, norm, lmHead, kvDtypeFor(ctx.precision ?? "f32"));
  }

  /** Model width. */
  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  /** Vocabulary size (length of a logits vector). */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /**
   * A fresh per-sequence state (empty caches, position 0).
   * @param capacity initial cache rows per layer (e.g. the prompt length plus the expected output)
   * @param kvDtype KV-cache storage; default the model's ({@link kvDtype}: f32 in `f32` precision,
   *   bf16 in `bf16` and `int8`)
   */
  newState(capacity = 256, kvDtype: KvDtype = this.kvDtype): LmState {
    const kvWidth = this.config.numKeyValueHeads * this.headDim;
    // The kernel set's bf16 rounding when it has one (same bits as src/util/bf16.ts).
    return new LmState(this.layers.length, kvWidth, capacity, kvDtype, this.k.roundBf16?.bind(this.k));
  }

  /**
   * Token-embedding lookup (`embed_tokens`; bf16 rows widened exactly to f32).
   * @param ids n token ids
   * @returns `[n, hidden]`
   * @throws RangeError when an id is not an integer in `[0, vocab)`
   */
  embed(ids: ArrayLike<number>): Float32Array {
    const h = this.config.hiddenSize;
    const out = new Float32Array(ids.length * h);
    const row = new Float32Array(h);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.embedTokens.rows) {
        throw new RangeError(
          `LanguageModel.embed: token id ${id} is outside the vocabulary [0, ${this.embedTokens.rows})`,
        );
      }
      out.set(weightRow(this.embedTokens, id, row), i * h);
    }
    return out;
  }

  /**
   * Runs m input rows through all decoder layers, appending their keys/values to the state's
   * caches (causal: row i sees every cached row and the new rows up to i). Advances
   * `state.position` by m.
   *
   * Dumps, when `opts.dumper` is given: each MoE layer's routing under
   * `<opts.moePrefix(i)>.{router_scores,topk_idx,topk_weight}` (default prefix `moe.layer{i}`), and
   * unless `opts.dumpRows` is false: `lm.rows` `[R]` (Int32, row indices local to this call: rows at
   * absolute positions divisible by 16, plus the last row) and `lm.layer{i}.out.rows` `[R, hidden]`.
   *
   * @param state the sequence
   * @param x input embeddings `[m, hidden]` (not modified)
   * @param m rows (>= 1)
   * @param opts dumping options ({@link ForwardOptions})
   * @returns output of the last decoder layer `[m, hidden]` (before the final norm)
   * @throws RangeError when `x.length !== m * hidden`, m < 1, or the state belongs to another model shape
   */
  forwardLayers(state: LmState, x: Float32Array, m: number, opts: ForwardOptions = {}): Float32Array {
    const h = this.config.hiddenSize;
    if (!(m >= 1) || x.length !== m * h) {
      throw new RangeError(`LanguageModel: input has ${x.length} values, expected ${m}x${h} with m >= 1`);
    }
    if (state.caches.length !== this.layers.length) {
      throw new RangeError(
        `LanguageModel: state has ${state.caches.length} caches, model has ${this.layers.length} layers`,
      );
    }
    const { dumper } = opts;
    const moePrefix = opts.moePrefix ?? ((i: number) => `moe.layer${i}`);
    const start = state.position;
    const positions = new Int32Array(m);
    for (let i = 0; i < m; i++) positions[i] = start + i;
    let rows: Int32Array | null = null;
    if (dumper && opts.dumpRows !== false) {
      const r: number[] = [];
      for (let i = 0; i < m; i++) if ((start + i) % LM_ROWS_STRIDE === 0 || i === m - 1) r.push(i);
      rows = Int32Array.from(r);
      dumper.put("lm.rows", rows, [rows.length]);
    }
    let hs = x;
    for (let li = 0; li < this.layers.length; li++) {
      const layer = this.layers[li];
      const moe = dumper && layer.ffn instanceof DeepseekMoe ? layer.ffn : null;
      if (moe && dumper) moe.dump = { sink: dumper, prefix: moePrefix(li) };
      try {
        hs = layer.forward(hs, m, { positions, causal: true, cache: state.caches[li] });
      } finally {
        if (moe) moe.dump = undefined;
      }
      if (dumper && rows) dumper.put(`lm.layer${li}.out.rows`, gatherRows(hs, h, rows), [rows.length, h]);
    }
    state.position = start + m;
    return hs;
  }

  /**
   * Final RMSNorm and `lm_head` of one hidden row.
   * @param last `[hidden]` output of the last decoder layer
   * @param dumper optional sink for the normed row
   * @param normDumpName dump name of the normed row `[hidden]` (e.g. `lm.norm.out.last`); not dumped when absent
   * @returns logits `[vocab]` (f32)
   */
  logitsOf(last: Float32Array, dumper?: Dumper, normDumpName?: string): Float32Array {
    const normed = this.norm.forward(last, 1);
    if (dumper && normDumpName) dumper.put(normDumpName, normed, [this.config.hiddenSize]);
    return this.lmHead.forward(normed, 1);
  }

  /**
   * Prefill: appends m input rows to the sequence and returns the logits of the last row
   * (spec 6.1, 8.1). Can be called on a fresh state (whole prompt) or to append a chunk.
   *
   * Dumps with a dumper (fixture names): `lm.rows`, `lm.layer{i}.out.rows`, `moe.layer{i}.router_scores`,
   * `moe.layer{i}.topk_idx` (ascending per row), `moe.layer{i}.topk_weight`, `lm.norm.out.last`,
   * `logits.step0`.
   *
   * @param state the sequence (its caches and position advance by m)
   * @param embeds input embeddings `[m, hidden]` (token embeddings with any image rows scattered in)
   * @param m rows (>= 1)
   * @returns logits of the last row `[vocab]`
   * @throws RangeError when `embeds.length !== m * hidden` or m < 1
   */
  prefill(state: LmState, embeds: Float32Array, m: number, dumper?: Dumper): Float32Array {
    const h = this.config.hiddenSize;
    const hs = this.forwardLayers(state, embeds, m, { dumper });
    const logits = this.logitsOf(hs.slice((m - 1) * h, m * h), dumper, "lm.norm.out.last");
    dumper?.put("logits.step0", logits, [logits.length]);
    return logits;
  }

  /**
   * Decode: appends one token at the next position and returns its logits (spec 8.1).
   *
   * Dumps with a dumper: `logits.step{n}` `[vocab]` with n = the number of decode calls on this state
   * including this one (the first decode after prefill is step 1, as in the fixtures), and each MoE
   * layer's routing as `moe.layer{i}.step{n}.{router_scores,topk_idx,topk_weight}` (`[1, E]`, `[1, k]`).
   *
   * @param state the sequence (its caches and position advance by 1)
   * @param tokenId the token just generated (or forced)
   * @returns logits `[vocab]`
   * @throws RangeError when the id is outside the vocabulary
   */
  decode(state: LmState, tokenId: number, dumper?: Dumper): Float32Array {
    const step = state.decodeSteps + 1;
    const hs = this.forwardLayers(state, this.embed([tokenId]), 1, {
      dumper,
      dumpRows: false,
      moePrefix: (i) => `moe.layer${i}.step${step}`,
    });
    state.decodeSteps = step;
    const logits = this.logitsOf(hs);
    dumper?.put(`logits.step${step}`, logits, [logits.length]);
    return logits;
  }

  /**
   * Batched decode: appends one token to each of B independent sequences in one pass, so every
   * weight is read once per step for all of them (issue 10). The B new embeddings form one
   * `[B, hidden]` matrix; every linear (q/k/v/o, dense MLP, router, experts, shared experts,
   * lm_head) runs once on the B rows; RoPE uses each row's own position; attention runs per
   * sequence over its own cache; the MoE routes each row independently. Row b's result equals
   * `decode(states[b], ids[b])` whenever the kernels are row-independent (true of the reference
   * kernels, and of the native f32 linear up to 16 rows: its decode path accumulates each row
   * separately in the same order; above 16 rows the blocked GEMM may round differently).
   * No dumps. Advances each state's position and decode-step count by 1.
   *
   * @param states B distinct sequences (each already prefilled)
   * @param ids the token just generated for each sequence, aligned with `states`
   * @returns logits `[vocab]` per sequence, aligned with `states`
   * @throws RangeError when the lengths differ, B = 0, a state repeats or belongs to another model
   *   shape, or an id is outside the vocabulary (nothing is modified then)
   */
  decodeBatch(states: readonly LmState[], ids: readonly number[]): Float32Array[] {
    const b = states.length;
    if (b === 0 || ids.length !== b) {
      throw new RangeError(`LanguageModel.decodeBatch: ${b} states and ${ids.length} ids (need equal, >= 1)`);
    }
    if (new Set(states).size !== b) throw new RangeError("LanguageModel.decodeBatch: a state appears twice");
    for (const s of states) {
      if (s.caches.length !== this.layers.length) {
        throw new RangeError(
          `LanguageModel: state has ${s.caches.length} caches, model has ${this.layers.length} layers`,
        );
      }
    }
    let hs = this.embed(ids);
    const positions = Int32Array.from(states, (s) => s.position);
    for (let li = 0; li < this.layers.length; li++) {
      const rowCaches = states.map((s) => s.caches[li]);
      hs = this.layers[li].forward(hs, b, { positions, causal: true, rowCaches });
    }
    for (const s of states) {
      s.position += 1;
      s.decodeSteps += 1;
    }
    const vocab = this.config.vocabSize;
    const all = this.lmHead.forward(this.norm.forward(hs, b), b);
    const out: Float32Array[] = [];
    for (let i = 0; i < b; i++) out.push(all.subarray(i * vocab, (i + 1) * vocab));
    return out;
  }
}

/** Rows `rows` of x `[*, width]` as a new `[rows.length, width]`. */
function gatherRows(x: Float32Array, width: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i++) out.set(x.subarray(rows[i] * width, (rows[i] + 1) * width), i * width);
  return out;
}
