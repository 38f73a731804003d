/** `nn.Linear`: y = x·Wᵀ + b with W `[out, in]` kept in its checkpoint dtype (bf16 stays bf16). */
import type { Kernels, Weight } from "../../kernels/types.ts";
import { cachedPack, type LoadContext, packFormat, prepareWeight, readPackedWeight, recordPack } from "./context.ts";

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
    const w = readPackedWeight(ctx, `${prefix}.weight`, [outDim, inDim]);
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
    const name = prefixes.map((p) => `${p}.weight`).join("+");
    const rows = outDims.reduce((a, b) => a + b, 0);
    const w =
      cachedPack(ctx, name, rows, inDim) ??
      recordPack(ctx, name, prepareWeight(ctx, readStacked(ctx, prefixes, inDim, outDims)));
    let b: Float32Array | null = null;
    if (bias) {
      b = new Float32Array(rows);
      let o = 0;
      prefixes.forEach((p, i) => {
        b?.set(ctx.ckpt.readF32(`${p}.bias`, [outDims[i]]), o);
        o += outDims[i];
      });
    }
    return new Linear(ctx.k, w, b);
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
 * The weights `<prefix>.weight` `[outDims[i], inDim]` stacked by rows. Read straight into place in
 * the context's read buffer when they get packed and are all BF16 or all F32 (the packed copy
 * outlives the buffer); otherwise each is read and copied into a fresh array.
 */
function readStacked(ctx: LoadContext, prefixes: readonly string[], inDim: number, outDims: readonly number[]): Weight {
  const names = prefixes.map((p) => `${p}.weight`);
  const rows = outDims.reduce((a, b) => a + b, 0);
  const infos = names.map((n) => ctx.ckpt.info(n));
  const dtype = infos[0].dtype;
  if (
    packFormat(ctx) &&
    ctx.readBuffer &&
    (dtype === "BF16" || dtype === "F32") &&
    infos.every((t) => t.dtype === dtype)
  ) {
    const total = infos.reduce((a, t) => a + t.byteLength, 0);
    const buf = ctx.readBuffer.bytes(total);
    let off = 0;
    names.forEach((n, i) => {
      ctx.ckpt.readWeight(n, [outDims[i], inDim], buf.subarray(off));
      off += infos[i].byteLength;
    });
    return dtype === "BF16"
      ? { dtype: "bf16", data: new Uint16Array(buf.buffer, buf.byteOffset, rows * inDim), rows, cols: inDim }
      : { dtype: "f32", data: new Float32Array(buf.buffer, buf.byteOffset, rows * inDim), rows, cols: inDim };
  }
  const parts = names.map((n, i) => ctx.ckpt.readWeight(n, [outDims[i], inDim]));
  const wdtype = parts[0].dtype;
  if (parts.some((w) => w.dtype !== wdtype))
    throw new RangeError(`${prefixes.join(", ")}: weights of different dtypes`);
  const data = wdtype === "bf16" ? new Uint16Array(rows * inDim) : new Float32Array(rows * inDim);
  let off = 0;
  for (const w of parts) {
    data.set(w.data, off);
    off += w.data.length;
  }
  return { dtype: wdtype, data, rows, cols: inDim } as Weight;
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
