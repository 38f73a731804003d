/**
 * What every model component needs at load time: the checkpoint to read its weights from and
 * the kernel set to compute with.
 */
import type { Checkpoint } from "../../checkpoint/types.ts";
import type { Kernels, PackedWeight, PackFormat, Precision, Weight } from "../../kernels/types.ts";

/** Load-time context shared by all components. */
export interface LoadContext {
  ckpt: Checkpoint;
  k: Kernels;
  /** Compute precision (default `f32`, the parity path). */
  precision?: Precision;
  /** Which part of the model is loading: `int8` quantises the language model only. Default `vision`. */
  role?: "vision" | "lm";
  /** Collects the weights packed at load time, so that their owner can release them (engine close). */
  packed?: PackedWeight[];
}

/** The pack format a matmul weight gets under the context's precision, or null (kept as stored). */
export function packFormat(ctx: LoadContext): PackFormat | null {
  switch (ctx.precision ?? "f32") {
    case "f32":
      return null;
    case "bf16":
      return "bf16";
    case "int8":
      return ctx.role === "lm" ? "int8" : "bf16";
  }
}

/**
 * Whether attention runs on bf16 products (AttentionParams.bf16) in the bf16 and int8 precisions,
 * as the matmuls do. The language model uses it for the prefill of a page only (SelfAttention);
 * its decode attention reads the bf16 KV cache with f32 products, at the bandwidth limit.
 */
export function bf16Attention(ctx: LoadContext): boolean {
  return (ctx.precision ?? "f32") !== "f32";
}

/** Packs a matmul weight for the context's precision (a no-op in `f32`). */
export function prepareWeight(ctx: LoadContext, w: Weight): Weight {
  const format = packFormat(ctx);
  if (!format || w.dtype === "packed") return w;
  const p = ctx.k.packWeight(w, format);
  ctx.packed?.push(p);
  return p;
}

/** A position-wise feed-forward network (dense SwiGLU MLP or MoE): `[m, hidden] -> [m, hidden]`. */
export interface FeedForward {
  forward(x: Float32Array, m: number): Float32Array;
}
