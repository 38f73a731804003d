/**
 * What every model component needs at load time: the checkpoint to read its weights from and
 * the kernel set to compute with.
 */
import type { Checkpoint } from "../../checkpoint/types.ts";
import type { Kernels } from "../../kernels/types.ts";

/** Load-time context shared by all components. */
export interface LoadContext {
  ckpt: Checkpoint;
  k: Kernels;
}

/** A position-wise feed-forward network (dense SwiGLU MLP or MoE): `[m, hidden] -> [m, hidden]`. */
export interface FeedForward {
  forward(x: Float32Array, m: number): Float32Array;
}
