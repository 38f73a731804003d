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
