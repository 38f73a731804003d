/** Normalisation layers (spec 5.1, 5.2, 10.3). Weights are small and kept in f32. */
import type { Kernels } from "../../kernels/types.ts";
import type { LoadContext } from "./context.ts";

/** RMSNorm (Qwen2 encoder, DeepSeek LM): y = x / sqrt(mean(x²) + eps) · weight, over `dim`. */
export class RmsNorm {
  constructor(
    private readonly k: Kernels,
    readonly weight: Float32Array,
    readonly eps: number,
  ) {}

  /** Reads `<prefix>.weight` `[dim]`. @throws CheckpointError */
  static load(ctx: LoadContext, prefix: string, dim: number, eps: number): RmsNorm {
    return new RmsNorm(ctx.k, ctx.ckpt.readF32(`${prefix}.weight`, [dim]), eps);
  }

  /** x `[m, dim]` -> new `[m, dim]`. */
  forward(x: Float32Array, m: number): Float32Array {
    return this.k.rmsNorm(x, m, this.weight.length, this.weight, this.eps);
  }
}

/** LayerNorm over the last axis (SAM, CLIP; LayerNorm2d is the same over channels of NHWC rows). */
export class LayerNorm {
  constructor(
    private readonly k: Kernels,
    readonly weight: Float32Array,
    readonly bias: Float32Array,
    readonly eps: number,
  ) {}

  /** Reads `<prefix>.weight` and `<prefix>.bias` `[dim]`. @throws CheckpointError */
  static load(ctx: LoadContext, prefix: string, dim: number, eps: number): LayerNorm {
    return new LayerNorm(
      ctx.k,
      ctx.ckpt.readF32(`${prefix}.weight`, [dim]),
      ctx.ckpt.readF32(`${prefix}.bias`, [dim]),
      eps,
    );
  }

  /** x `[m, dim]` -> new `[m, dim]`. */
  forward(x: Float32Array, m: number): Float32Array {
    return this.k.layerNorm(x, m, this.weight.length, this.weight, this.bias, this.eps);
  }
}
