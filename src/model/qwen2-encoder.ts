/**
 * The Qwen2 "decoder as encoder" of DeepSeek-OCR 2 (`model.qwen2_model`), spec 5.2 and pitfall 3.
 *
 * Per view: the n SAM feature rows `[n, hidden]` are followed by n learned queries (`query_768` for
 * n = 144, `query_1024` for n = 256: the table with n rows) -> 2n rows; Qwen2 pre-norm layers
 * (q/k/v bias, GQA, rotate-half RoPE θ = 1e6 at positions 0..2n-1, SwiGLU MLP, RMSNorm) run with the
 * mixed additive mask of {@link buildCausalFlowMask}; the final RMSNorm is applied and only the n
 * query rows are returned ("causal-flow queries").
 */
import type { Qwen2EncoderConfig } from "../config/types.ts";
import { SelfAttention } from "./blocks/attention.ts";
import type { LoadContext } from "./blocks/context.ts";
import { DecoderLayer } from "./blocks/decoder-layer.ts";
import { SwiGluMlp } from "./blocks/mlp.ts";
import { RmsNorm } from "./blocks/norm.ts";

/** Checkpoint prefix of the encoder. Layers live under `<prefix>.model.model.layers.{i}`. */
export const QWEN2_ENCODER_PREFIX = "model.qwen2_model";

/** float32's most negative finite value, the mask fill of the f32 reference (`torch.finfo(float32).min`). */
export const F32_MIN = -3.4028234663852886e38;

/**
 * The additive `[2n, 2n]` attention mask of the encoder (spec 5.2 step 4): row r, column c is 0 (open)
 * when both are image rows (r < n, c < n), or r is a query row (r >= n) and c < n (all image rows) or
 * n <= c <= r (earlier queries and itself); every other entry is {@link F32_MIN}. Image rows never see
 * the queries.
 *
 * @param n image rows (= query rows)
 * @returns row-major `[2n, 2n]`
 */
export function buildCausalFlowMask(n: number): Float32Array {
  const l = 2 * n;
  const mask = new Float32Array(l * l).fill(F32_MIN);
  for (let r = 0; r < l; r++) {
    const open = r < n ? n : r + 1; // image rows: columns 0..n-1; query rows: 0..r
    mask.fill(0, r * l, r * l + open);
  }
  return mask;
}

/** Qwen2 decoder-as-encoder: `[n, hidden]` SAM tokens -> `[n, hidden]` query outputs. */
export class Qwen2Encoder {
  private readonly masks = new Map<number, { mask: Float32Array; positions: Int32Array }>();

  constructor(
    readonly cfg: Qwen2EncoderConfig,
    readonly layers: DecoderLayer[],
    readonly norm: RmsNorm,
    /** Learned query tables `[n, hidden]`, keyed by their row count n (144, 256). */
    readonly queries: Map<number, Float32Array>,
  ) {}

  /**
   * Reads `<prefix>.model.model.layers.{0..L-1}` (Qwen2 layers), `<prefix>.model.model.norm` and every
   * `<prefix>.query_<size>.weight` table present in the checkpoint (`query_768` `[144, hidden]`,
   * `query_1024` `[256, hidden]`).
   * @throws CheckpointError when a tensor is missing or has another shape
   * @throws Error when the checkpoint holds no query table
   */
  static load(ctx: LoadContext, cfg: Qwen2EncoderConfig, prefix = QWEN2_ENCODER_PREFIX): Qwen2Encoder {
    const h = cfg.hiddenSize;
    const base = `${prefix}.model.model`;
    const layers: DecoderLayer[] = [];
    for (let i = 0; i < cfg.numHiddenLayers; i++) {
      const p = `${base}.layers.${i}`;
      layers.push(
        new DecoderLayer(
          RmsNorm.load(ctx, `${p}.input_layernorm`, h, cfg.rmsNormEps),
          SelfAttention.load(ctx, `${p}.self_attn`, {
            hidden: h,
            heads: cfg.numAttentionHeads,
            kvHeads: cfg.numKeyValueHeads,
            ropeTheta: cfg.ropeTheta,
            qkvBias: true,
          }),
          RmsNorm.load(ctx, `${p}.post_attention_layernorm`, h, cfg.rmsNormEps),
          SwiGluMlp.load(ctx, `${p}.mlp`, h, cfg.intermediateSize),
        ),
      );
    }
    const queries = new Map<number, Float32Array>();
    const re = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.query_\\d+\\.weight$`);
    for (const name of ctx.ckpt.names()) {
      if (!re.test(name)) continue;
      const rows = ctx.ckpt.info(name).shape[0];
      queries.set(rows, ctx.ckpt.readF32(name, [rows, h]));
    }
    if (queries.size === 0) throw new Error(`Qwen2 encoder: no ${prefix}.query_*.weight table in the checkpoint`);
    return new Qwen2Encoder(cfg, layers, RmsNorm.load(ctx, `${base}.norm`, h, cfg.rmsNormEps), queries);
  }

  /** Token counts n for which a query table exists (e.g. [144, 256]). */
  supportedTokenCounts(): number[] {
    return [...this.queries.keys()].sort((a, b) => a - b);
  }

  /**
   * Encodes one view.
   * @param x `[n, hidden]` SAM features, one row per SAM output pixel (row-major over the grid)
   * @param n number of image rows
   * @returns new `[n, hidden]`: the final-normed outputs of the n query rows
   * @throws RangeError when `x.length !== n * hidden` or no query table has n rows
   */
  forward(x: Float32Array, n: number): Float32Array {
    const h = this.cfg.hiddenSize;
    if (x.length !== n * h) throw new RangeError(`Qwen2 encoder: input has ${x.length} values, expected ${n}x${h}`);
    const q = this.queries.get(n);
    if (!q) {
      throw new RangeError(
        `Qwen2 encoder: no query table for ${n} tokens (have ${this.supportedTokenCounts().join(", ")})`,
      );
    }
    let mp = this.masks.get(n);
    if (!mp) {
      const positions = new Int32Array(2 * n);
      for (let i = 0; i < 2 * n; i++) positions[i] = i;
      mp = { mask: buildCausalFlowMask(n), positions };
      this.masks.set(n, mp);
    }
    let seq: Float32Array = new Float32Array(2 * n * h);
    seq.set(x, 0);
    seq.set(q, n * h);
    for (const layer of this.layers) {
      seq = layer.forward(seq, 2 * n, { positions: mp.positions, causal: false, mask: mp.mask });
    }
    // RMSNorm is per row: normalising the query rows only equals normalising all and keeping the last n.
    return this.norm.forward(seq.subarray(n * h), n);
  }
}
