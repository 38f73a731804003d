/**
 * The vision-to-language projector (`model.projector.layers`): one Linear with bias, applied to each
 * vision row separately, no activation (spec 5.3 for v2: 896 -> 1280; spec 7.4 for v1: 2048 -> 1280).
 * Sizes come from `projector_config` (`input_dim`, `n_embed`).
 */
import type { ProjectorConfig } from "../config/types.ts";
import type { LoadContext } from "./blocks/context.ts";
import { Linear } from "./blocks/linear.ts";

/** Checkpoint prefix of the projector Linear. */
export const PROJECTOR_PREFIX = "model.projector.layers";

/** Linear projector `[m, inputDim] -> [m, nEmbed]`. */
export class Projector {
  constructor(readonly layer: Linear) {}

  /**
   * Reads `<prefix>.weight` `[nEmbed, inputDim]` and `<prefix>.bias` `[nEmbed]`.
   * @throws CheckpointError when a tensor is missing or has another shape
   * @throws Error for a projector type other than "linear"
   */
  static load(ctx: LoadContext, cfg: ProjectorConfig, prefix = PROJECTOR_PREFIX): Projector {
    if (cfg.projectorType !== "linear") throw new Error(`projector: unsupported type ${String(cfg.projectorType)}`);
    return new Projector(Linear.load(ctx, prefix, cfg.inputDim, cfg.nEmbed, true));
  }

  get inputDim(): number {
    return this.layer.inDim;
  }

  get nEmbed(): number {
    return this.layer.outDim;
  }

  /**
   * x `[m, inputDim]` -> new `[m, nEmbed]`.
   * @throws RangeError when `x.length !== m * inputDim`
   */
  forward(x: Float32Array, m: number): Float32Array {
    return this.layer.forward(x, m);
  }
}
