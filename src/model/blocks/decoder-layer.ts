/**
 * Pre-norm decoder layer shared by the Qwen2 encoder (spec 5.2) and the DeepSeek LM (spec 6.1):
 * h = x + attn(norm1(x)); y = h + ffn(norm2(h)). The feed-forward part is a dense SwiGLU MLP or a MoE.
 */

import type { AttentionInput, SelfAttention } from "./attention.ts";
import type { FeedForward } from "./context.ts";
import type { RmsNorm } from "./norm.ts";

/** One transformer layer `[m, hidden] -> [m, hidden]`. */
export class DecoderLayer {
  constructor(
    readonly inputNorm: RmsNorm,
    readonly attn: SelfAttention,
    readonly postNorm: RmsNorm,
    readonly ffn: FeedForward,
  ) {}

  /** Returns a new array; x is left unchanged. */
  forward(x: Float32Array, m: number, input: AttentionInput): Float32Array {
    const h = this.attn.forward(this.inputNorm.forward(x, m), m, input);
    for (let i = 0; i < h.length; i++) h[i] += x[i];
    const f = this.ffn.forward(this.postNorm.forward(h, m), m);
    for (let i = 0; i < f.length; i++) f[i] += h[i];
    return f;
  }
}
