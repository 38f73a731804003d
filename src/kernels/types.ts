/**
 * The compute kernels every model component is written against.
 *
 * Two implementations exist: `reference.ts` (plain TypeScript, the ground truth for the
 * kernel tests) and `native.ts` (the C++17 Node-API addon in `native/`, used by the engine).
 * Both follow the same contract, documented here.
 *
 * Conventions:
 * - Activations are `Float32Array`, row-major. A "[M, K]" array has M rows of K values.
 * - Linear weights use the PyTorch `nn.Linear` layout `[N, K]` (out features x in features),
 *   stored as bf16 bit patterns (`Uint16Array`, widened to f32 on the fly; never copied to f32)
 *   or as f32.
 * - Multi-head tensors are `[L, heads * headDim]`: head h occupies columns `h*headDim .. (h+1)*headDim`.
 * - All accumulation is in f32 (or wider).
 *
 * Source: ../shared/spec/deepseek-ocr.md sections 5, 6, 7, 10.
 */

/**
 * Compute precision of a run (issue 10):
 * - `f32`: f32 activations and accumulation on the checkpoint's bf16 weights widened exactly
 *   (the parity path the fixtures are checked in; always available).
 * - `bf16`: activations rounded to bf16 at every matmul input, bf16 x bf16 products accumulated
 *   in f32 (the official bf16 inference; `vdpbf16ps` where the CPU has AVX-512 BF16).
 * - `int8`: the language model's matmuls on int8 weights (one scale per 128 input values of a
 *   row) and int16 activations (quantised on the fly, one scale per 128 values: as accurate as
 *   bf16 rounding, and integer products, `vpdpwssd` on CPUs with AVX-512 VNNI); the rest of the
 *   model, the vision encoder included, runs as `bf16`.
 */
export type Precision = "f32" | "bf16" | "int8";

/** Formats {@link Kernels.packWeight} produces. */
export type PackFormat = "bf16" | "int8";

/**
 * Default `int8` group size: consecutive input (k) values of a row that share one scale
 * (BENCHMARKS.md, "Accuracy of the fast precisions", has the measurements behind the choice).
 */
export const INT8_GROUP = 128;

/** Options of {@link Kernels.packWeight}. */
export interface PackOptions {
  /** `int8`: k values per scale (native kernels: 32, 64 or 128); default {@link INT8_GROUP}. */
  group?: number;
}

/**
 * A weight repacked once at load time by {@link Kernels.packWeight} into the layout its kernels
 * stream best; `handle` is owned by the kernel set (opaque). Same `[rows, cols]` semantics.
 */
export interface PackedWeight {
  dtype: "packed";
  format: PackFormat;
  rows: number;
  cols: number;
  /** Bytes held by the packed data (for memory accounting). */
  bytes: number;
  handle: unknown;
}

/** A 2-D weight matrix `[rows, cols]` = `[out, in]`, row-major, as stored in the checkpoint. */
export type PlainWeight =
  | { dtype: "bf16"; data: Uint16Array; rows: number; cols: number }
  | { dtype: "f32"; data: Float32Array; rows: number; cols: number };

/** A weight as the kernels take it: plain, or packed by {@link Kernels.packWeight}. */
export type Weight = PlainWeight | PackedWeight;

/**
 * Keys or values as {@link Kernels.attention} takes them: f32, or bf16 bit patterns
 * (`Uint16Array`, a bf16 KV cache) widened exactly to f32 as they are read.
 */
export type KvArray = Float32Array | Uint16Array;

/** Parameters of {@link Kernels.attention}. */
export interface AttentionParams {
  /** Independent batches (e.g. SAM windows). q/k/v/out are `batch` contiguous blocks. Default 1. */
  batch?: number;
  /** Query rows per batch. */
  lq: number;
  /** Key/value rows per batch (for a KV cache: the number of valid cached rows). */
  lk: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (GQA). `heads % kvHeads === 0`; query head h uses kv head `floor(h / (heads / kvHeads))`. */
  kvHeads: number;
  /** Per-head width. */
  headDim: number;
  /** Multiplier of q·kᵀ (usually 1/sqrt(headDim)). Not applied to masks or rel-pos bias. */
  scale: number;
  /**
   * Row stride (elements) of k and v; default `kvHeads * headDim`. Lets a KV cache with spare
   * capacity be passed as is. Per batch, k/v blocks are `lkCapacity * kStride` apart where
   * `lkCapacity` defaults to `lk`.
   */
  lkCapacity?: number;
  /**
   * Causal masking: when set, query row i may attend key rows `j <= causalOffset + i` only.
   * For prefill use 0; for decode of one row at absolute position p use p.
   */
  causalOffset?: number;
  /** Additive mask `[lq, lk]`, shared by all batches and heads (e.g. the Qwen2 encoder's mixed mask). */
  mask?: Float32Array;
  /**
   * SAM decomposed relative position bias (spec 5.1). Requires `lq === lk === h * w`, row index
   * `r = y * w + x`. For query (y1, x1) and key (y2, x2) the bias is
   * `<q_unscaled, tableH[y1 - y2 + h - 1]> + <q_unscaled, tableW[x1 - x2 + w - 1]>`, per head,
   * with q the unscaled query head vector. `tableH` is `[2h-1, headDim]`, `tableW` `[2w-1, headDim]`
   * (already resized to that length by the caller).
   */
  relPos?: { h: number; w: number; tableH: Float32Array; tableW: Float32Array };
  /**
   * bf16 products (the `bf16` and `int8` precisions: the vision encoder, the language model's
   * prefill): q, k and v are rounded to bf16
   * (RNE) for q·kᵀ and p·v, and each softmax probability is rounded to bf16 before it multiplies v
   * (its f32 value goes into the normalising sum); accumulation and softmax stay f32, the rel-pos
   * bias uses the f32 q. The native kernels may round p relative to a running maximum over blocks
   * of keys (flash-style), which changes p by at most a bf16 rounding step against an unblocked
   * computation. Default false (f32 throughout).
   */
  bf16?: boolean;
}

/** Geometry of {@link Kernels.conv2d}. */
export interface Conv2dParams {
  /** Input channels, height, width (input is NCHW with N = 1: `[C, H, W]`). */
  c: number;
  h: number;
  w: number;
  /** Kernel size (square). */
  k: number;
  stride: number;
  pad: number;
}

/**
 * A DeepSeek-MoE layer (spec 6.3) for {@link Kernels.fuseMoe}: the plain router weight, 3 weights
 * (gate, up, down) per routed expert and optionally the fused shared MLP's 3. The kernel set may
 * keep references to the weights; the caller keeps them unchanged for the fused layer's lifetime.
 */
export interface FusedMoeSpec {
  hidden: number;
  topK: number;
  normTopkProb: boolean;
  routedScalingFactor: number;
  /** `[E, hidden]`, plain (the router runs in f32). */
  gate: PlainWeight;
  /** Per routed expert: gate `[inter, hidden]`, up `[inter, hidden]`, down `[hidden, inter]`. */
  experts: { gate: Weight; up: Weight; down: Weight }[];
  shared: { gate: Weight; up: Weight; down: Weight } | null;
}

/** A MoE layer run as one kernel call: the same arithmetic as src/model/moe.ts. */
export interface FusedMoe {
  /**
   * x `[m, hidden]` -> `[m, hidden]`; when `routing` is given, its arrays receive the router
   * scores `[m, E]`, the chosen experts `[m, k]` (ascending per row) and their weights `[m, k]`.
   */
  forward(
    x: Float32Array,
    m: number,
    routing?: { scores: Float32Array; idx: Int32Array; weight: Float32Array },
  ): Float32Array;
}

/** The kernel set. Every function is synchronous and may use the shared thread pool. */
export interface Kernels {
  /** Implementation name, e.g. "native-avx2" or "reference". */
  readonly name: string;
  /** Sets the thread count of the (single) thread pool. n >= 1. */
  setThreads(n: number): void;
  getThreads(): number;

  /**
   * Repacks a plain (bf16 or f32) weight for `format`; linear/conv2d accept the result in place of
   * the original, which the caller may then drop. `bf16`: linear rounds its input rows to bf16.
   * `int8`: symmetric int8 with one f32 scale per group of `opts.group` consecutive k values of
   * each row (the last group of a row shorter when the group size does not divide `cols`):
   * `s = f32(max |W| over the group / 127)`, `q = Math.round(f32(W / s))` clamped to [-127, 127]
   * (0 where s = 0), W ≈ q · s; linear quantises its input rows to int16 per row and group
   * (reference.ts quantizeRows) and multiplies the quantised values: integer products, scaled per
   * group (`vpdpwssd` with AVX-512 VNNI).
   * @throws RangeError for a packed input, an unsupported format or group size
   */
  packWeight(w: Weight, format: PackFormat, opts?: PackOptions): PackedWeight;
  /**
   * Frees a packed weight's memory now rather than at garbage collection (idempotent). Any later
   * use of it throws. Kernel sets whose packed weights are plain JS memory omit this.
   */
  releaseWeight?(w: PackedWeight): void;
  /**
   * Pack cache (src/model/pack-cache.ts): writes a packed weight's bytes (its layout as the kernels
   * hold it) to the open file `fd` at byte `position`; returns the byte count written. Kernel sets
   * that cannot restore packs omit this and {@link loadPacked}.
   * @throws Error naming the system error on a failed write
   */
  savePacked?(w: PackedWeight, fd: number, position: number): number;
  /**
   * Reads back what {@link savePacked} wrote at `position`: a packed weight of `format`
   * `[rows, cols]` (`group`: int8 k values per scale), and the bytes it took in the file.
   * @throws Error on a failed or short read; RangeError for bad sizes or group
   */
  loadPacked?(
    fd: number,
    position: number,
    format: PackFormat,
    rows: number,
    cols: number,
    group: number,
  ): { weight: PackedWeight; fileBytes: number };

  /**
   * y = x · Wᵀ + bias. x `[m, w.cols]`, W `[n = w.rows, w.cols]`, bias `[n]` or null; returns `[m, n]`.
   * When `out` is given (length exactly `m * n`, not overlapping x) the result is written into it
   * and `out` is returned: callers reuse large outputs instead of touching fresh pages every call.
   * @throws RangeError when `x.length !== m * w.cols`, bias or out has the wrong length.
   */
  linear(x: Float32Array, m: number, w: Weight, bias?: Float32Array | null, out?: Float32Array): Float32Array;

  /** y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis. x `[rows, cols]`; returns a new array. */
  layerNorm(
    x: Float32Array,
    rows: number,
    cols: number,
    weight: Float32Array,
    bias: Float32Array,
    eps: number,
  ): Float32Array;

  /** y = x / sqrt(mean(x²) + eps) * weight over the last axis. x `[rows, cols]`; returns a new array. */
  rmsNorm(x: Float32Array, rows: number, cols: number, weight: Float32Array, eps: number): Float32Array;

  /** In place: exact GELU, x · ½(1 + erf(x / √2)). */
  gelu(x: Float32Array): void;
  /** In place: quick GELU, x · sigmoid(1.702 x) (CLIP). */
  quickGelu(x: Float32Array): void;
  /** In place: SiLU, x · sigmoid(x). */
  silu(x: Float32Array): void;
  /** gate := silu(gate) ⊙ up (in place on gate); returns gate. Same lengths. */
  swiglu(gate: Float32Array, up: Float32Array): Float32Array;
  /** In place: a += b (same length). */
  add(a: Float32Array, b: Float32Array): void;
  /**
   * Optional: `out[offset + i]` = x[i] rounded to bf16, as bit patterns (round to nearest even,
   * NaN stays a quiet NaN, overflow to ±inf: src/util/bf16.ts's rule, bit for bit). A bf16 KV cache
   * stores its rows with it; without it callers use `f32ArrayToBf16Bits` (src/util/bf16.ts).
   * @throws RangeError when x does not fit in out at offset
   */
  roundBf16?(x: Float32Array, out: Uint16Array, offset?: number): void;
  /** In place row softmax of x `[rows, cols]`. */
  softmax(x: Float32Array, rows: number, cols: number): void;

  /**
   * In place rotary embedding, rotate-half convention (Llama/Qwen2), over the full head width.
   * x `[L, heads * headDim]`; row i has position `positions[i]`.
   * inv_freq[j] = 1 / theta^(2j / headDim) (f32), angle = f32(pos * inv_freq[j]),
   * x1 = x[..j], x2 = x[j + headDim/2]: out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin.
   */
  rope(x: Float32Array, rows: number, heads: number, headDim: number, positions: Int32Array, theta: number): void;

  /**
   * softmax(scale · q kᵀ + mask + relPos bias) · v with optional causal masking, per batch and head.
   * q `[batch, lq, heads*headDim]`, k/v `[batch, lkCapacity, kvHeads*headDim]`; returns `[batch, lq, heads*headDim]`.
   * Softmax in f32 with max subtraction.
   * k and v are both f32 or both bf16 (`Uint16Array` bit patterns, e.g. a bf16 KV cache): bf16 values
   * are widened exactly to f32 on load, so the result equals that of the f32 call on the widened
   * arrays; q, the softmax and the accumulation stay f32.
   * @throws TypeError when k and v differ in type
   */
  attention(q: Float32Array, k: KvArray, v: KvArray, p: AttentionParams): Float32Array;

  /**
   * 2-D convolution, NCHW with N = 1. x `[c, h, w]`, weight `[out, c * k * k]` (PyTorch `[out, c, k, k]`
   * flattened), optional bias `[out]`; zero padding `pad` on every side.
   * Returns `[out, ho, wo]` with ho = floor((h + 2 pad - k) / stride) + 1.
   * A weight packed as `bf16` rounds the input to bf16 first, as in {@link linear}.
   */
  conv2d(x: Float32Array, weight: Weight, bias: Float32Array | null, p: Conv2dParams): Float32Array;

  /**
   * Optional: a fused MoE layer (one native call per layer), or null when this kernel set cannot
   * run these weights fused (the caller then runs the layer op by op).
   */
  fuseMoe?(spec: FusedMoeSpec): FusedMoe | null;
}
