/** `nn.Linear`: y = x·Wᵀ + b with W `[out, in]` kept in its checkpoint dtype (bf16 stays bf16). */
import type { Kernels, Weight } from "../../kernels/types.ts";
import { type LoadContext, prepareWeight } from "./context.ts";

/** A linear layer `[m, inDim] -> [m, outDim]`. */
export class Linear {
  constructor(
    private readonly k: Kernels,
    readonly weight: Weight,
    readonly bias: Float32Array | null,
  ) {}

  /**
   * Reads `<prefix>.weight` `[outDim, inDim]` (packed for the context's precision) and, when `bias`,
   * `<prefix>.bias` `[outDim]`.
   * @throws CheckpointError when a tensor is missing or has another shape.
   */
  static load(ctx: LoadContext, prefix: string, inDim: number, outDim: number, bias: boolean): Linear {
    const w = prepareWeight(ctx, ctx.ckpt.readWeight(`${prefix}.weight`, [outDim, inDim]));
    const b = bias ? ctx.ckpt.readF32(`${prefix}.bias`, [outDim]) : null;
    return new Linear(ctx.k, w, b);
  }

  /**
   * One linear layer for several that read the same input (q/k/v): the weights `<prefix>.weight`
   * `[outDims[i], inDim]` stacked by rows into `[sum(outDims), inDim]` (and the biases), so one
   * GEMM produces their outputs side by side; split them with {@link splitColumns}. Each output
   * element is the same dot product as in the separate layers.
   * @throws CheckpointError when a tensor is missing or has another shape; RangeError when the
   *   weights differ in dtype
   */
  static loadStacked(
    ctx: LoadContext,
    prefixes: readonly string[],
    inDim: number,
    outDims: readonly number[],
    bias: boolean,
  ): Linear {
    const parts = prefixes.map((p, i) => ctx.ckpt.readWeight(`${p}.weight`, [outDims[i], inDim]));
    const rows = outDims.reduce((a, b) => a + b, 0);
    const dtype = parts[0].dtype;
    if (parts.some((w) => w.dtype !== dtype))
      throw new RangeError(`${prefixes.join(", ")}: weights of different dtypes`);
    const data = dtype === "bf16" ? new Uint16Array(rows * inDim) : new Float32Array(rows * inDim);
    let off = 0;
    for (const w of parts) {
      data.set(w.data, off);
      off += w.data.length;
    }
    const stacked = { dtype, data, rows, cols: inDim } as Weight;
    let b: Float32Array | null = null;
    if (bias) {
      b = new Float32Array(rows);
      let o = 0;
      prefixes.forEach((p, i) => {
        b?.set(ctx.ckpt.readF32(`${p}.bias`, [outDims[i]]), o);
        o += outDims[i];
      });
    }
    return new Linear(ctx.k, prepareWeight(ctx, stacked), b);
  }

  get inDim(): number {
    return this.weight.cols;
  }

  get outDim(): number {
    return this.weight.rows;
  }

  /** x `[m, inDim]` -> `[m, outDim]`, written into `out` (length `m * outDim`) when given. */
  forward(x: Float32Array, m: number, out?: Float32Array): Float32Array {
    return this.k.linear(x, m, this.weight, this.bias, out);
  }
}

/**
 * Splits `y` `[m, sum(widths)]` (rows side by side, as {@link Linear.loadStacked} produces) into
 * one contiguous `[m, widths[i]]` array per part.
 */
export function splitColumns(y: Float32Array, m: number, widths: readonly number[]): Float32Array[] {
  const total = widths.reduce((a, b) => a + b, 0);
  if (y.length !== m * total) throw new RangeError(`splitColumns: ${y.length} values for ${m} rows of ${total}`);
  const out = widths.map((w) => new Float32Array(m * w));
  for (let r = 0; r < m; r++) {
    let c = r * total;
    for (let i = 0; i < widths.length; i++) {
      const w = widths[i];
      out[i].set(y.subarray(c, c + w), r * w);
      c += w;
    }
  }
  return out;
}
