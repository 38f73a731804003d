/** SiLU-gated MLP (SwiGLU): down(silu(gate(x)) ⊙ up(x)), no biases (spec 5.2, 6.3). */
import type { Kernels } from "../../kernels/types.ts";
import type { FeedForward, LoadContext } from "./context.ts";
import { Linear } from "./linear.ts";

/** Dense SwiGLU MLP `[m, hidden] -> [m, hidden]` with intermediate width `inter`. */
export class SwiGluMlp implements FeedForward {
  constructor(
    private readonly k: Kernels,
    readonly gate: Linear,
    readonly up: Linear,
    readonly down: Linear,
  ) {}

  /** Reads `<prefix>.{gate,up,down}_proj.weight`. @throws CheckpointError */
  static load(ctx: LoadContext, prefix: string, hidden: number, inter: number): SwiGluMlp {
    return new SwiGluMlp(
      ctx.k,
      Linear.load(ctx, `${prefix}.gate_proj`, hidden, inter, false),
      Linear.load(ctx, `${prefix}.up_proj`, hidden, inter, false),
      Linear.load(ctx, `${prefix}.down_proj`, inter, hidden, false),
    );
  }

  forward(x: Float32Array, m: number): Float32Array {
    const g = this.gate.forward(x, m);
    const u = this.up.forward(x, m);
    return this.down.forward(this.k.swiglu(g, u), m);
  }
}
