/**
 * Multi-head self-attention of the decoder-style transformers (Qwen2 encoder, spec 5.2; DeepSeek
 * LM with use_mla false = Llama attention, spec 6.2): q/k/v projections (optional biases), GQA,
 * rotate-half RoPE over the full head width, softmax(q kᵀ / sqrt(headDim) + mask) v, o_proj
 * without bias.
 */
import type { Kernels } from "../../kernels/types.ts";
import { bf16Attention, type LoadContext } from "./context.ts";
import type { KvCache } from "./kv-cache.ts";
import { Linear, splitColumns } from "./linear.ts";

/** Dimensions of one attention layer. */
export interface AttentionDims {
  hidden: number;
  heads: number;
  kvHeads: number;
  ropeTheta: number;
  /** q/k/v biases (Qwen2: true; DeepSeek LM: attention_bias, false). o_proj never has one. */
  qkvBias: boolean;
}

/** Per-call options. */
export interface AttentionInput {
  /** Absolute position of each of the m rows (RoPE). */
  positions: Int32Array;
  /** Causal masking (LM). With a cache, row i sees cached rows and rows <= i. */
  causal: boolean;
  /** Additive `[m, m]` mask (Qwen2 encoder), without a cache only. */
  mask?: Float32Array;
  /** KV cache: the new rows' k/v are appended and attention runs over the whole cache. */
  cache?: KvCache;
  /**
   * Batched decode: row i is the next token of a different sequence whose cache is `rowCaches[i]`
   * (length m). Row i's k/v are appended to its own cache and it attends over that cache only
   * (causal is implied; `cache` and `mask` must be absent). The projections still run once on all m rows.
   */
  rowCaches?: readonly KvCache[];
}

/** Self-attention `[m, hidden] -> [m, hidden]`. */
export class SelfAttention {
  readonly headDim: number;

  /** Widths of q, k and v in the stacked projection's output. */
  private readonly widths: readonly [number, number, number];

  constructor(
    private readonly k: Kernels,
    readonly dims: AttentionDims,
    /** q, k and v projections stacked into one layer (`[hidden + 2 kvDim, hidden]`): one GEMM. */
    readonly qkv: Linear,
    readonly o: Linear,
    /** Attention on bf16 products (AttentionParams.bf16; {@link bf16Attention}). */
    readonly bf16Products = false,
  ) {
    this.headDim = dims.hidden / dims.heads;
    const kvDim = dims.kvHeads * this.headDim;
    this.widths = [dims.hidden, kvDim, kvDim];
    if (qkv.outDim !== dims.hidden + 2 * kvDim) {
      throw new RangeError(
        `SelfAttention: qkv projection has ${qkv.outDim} outputs, expected ${dims.hidden + 2 * kvDim}`,
      );
    }
  }

  /** Reads `<prefix>.{q,k,v,o}_proj` (q/k/v stacked, see {@link Linear.loadStacked}). @throws CheckpointError */
  static load(ctx: LoadContext, prefix: string, dims: AttentionDims): SelfAttention {
    const headDim = dims.hidden / dims.heads;
    const kvDim = dims.kvHeads * headDim;
    const qkv = Linear.loadStacked(
      ctx,
      [`${prefix}.q_proj`, `${prefix}.k_proj`, `${prefix}.v_proj`],
      dims.hidden,
      [dims.hidden, kvDim, kvDim],
      dims.qkvBias,
    );
    const o = Linear.load(ctx, `${prefix}.o_proj`, dims.hidden, dims.hidden, false);
    return new SelfAttention(ctx.k, dims, qkv, o, bf16Attention(ctx));
  }

  /** x `[m, hidden]` (already normed) -> `[m, hidden]`. */
  forward(x: Float32Array, m: number, input: AttentionInput): Float32Array {
    const { heads, kvHeads, ropeTheta } = this.dims;
    const d = this.headDim;
    const [q, kk, v] = splitColumns(this.qkv.forward(x, m), m, this.widths);
    this.k.rope(q, m, heads, d, input.positions, ropeTheta);
    this.k.rope(kk, m, kvHeads, d, input.positions, ropeTheta);
    const scale = 1 / Math.sqrt(d);
    let out: Float32Array;
    if (input.rowCaches) {
      out = this.attendRows(q, kk, v, m, input.rowCaches, scale);
    } else if (input.cache && (input.cache.length > 0 || m === 1)) {
      const cache = input.cache;
      const before = cache.length;
      cache.append(kk, v, m);
      out = this.k.attention(q, cache.k, cache.v, {
        lq: m,
        lk: cache.length,
        lkCapacity: cache.capacity,
        heads,
        kvHeads,
        headDim: d,
        scale,
        causalOffset: input.causal ? before : undefined,
      });
    } else {
      // No cache, or a prefill into an empty one: attend over this call's own f32 k/v (the prefill
      // attention is compute-bound; reading a bf16 cache back would only add conversions), then
      // keep them in the cache.
      input.cache?.append(kk, v, m);
      out = this.k.attention(q, kk, v, {
        lq: m,
        lk: m,
        heads,
        kvHeads,
        headDim: d,
        scale,
        causalOffset: input.causal ? 0 : undefined,
        mask: input.mask,
        bf16: this.bf16Products,
      });
    }
    return this.o.forward(out, m);
  }

  /**
   * One query row per sequence: appends row i of kk/v to `caches[i]` and attends over that cache
   * (lq = 1, causal offset = the rows cached before it), exactly as a single-sequence decode does.
   */
  private attendRows(
    q: Float32Array,
    kk: Float32Array,
    v: Float32Array,
    m: number,
    caches: readonly KvCache[],
    scale: number,
  ): Float32Array {
    const { heads, kvHeads } = this.dims;
    const d = this.headDim;
    if (caches.length !== m) throw new RangeError(`SelfAttention: ${caches.length} row caches for ${m} rows`);
    const qw = heads * d;
    const kw = kvHeads * d;
    const out = new Float32Array(m * qw);
    for (let i = 0; i < m; i++) {
      const cache = caches[i];
      const before = cache.length;
      cache.append(kk.subarray(i * kw, (i + 1) * kw), v.subarray(i * kw, (i + 1) * kw), 1);
      const o = this.k.attention(q.subarray(i * qw, (i + 1) * qw), cache.k, cache.v, {
        lq: 1,
        lk: cache.length,
        lkCapacity: cache.capacity,
        heads,
        kvHeads,
        headDim: d,
        scale,
        causalOffset: before,
      });
      out.set(o, i * qw);
    }
    return out;
  }
}
