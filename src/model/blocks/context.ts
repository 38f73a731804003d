/**
 * What every model component needs at load time: the checkpoint to read its weights from and
 * the kernel set to compute with.
 */
import type { Checkpoint } from "../../checkpoint/types.ts";
import {
  INT8_GROUP,
  type Kernels,
  type PackedWeight,
  type PackFormat,
  type Precision,
  type Weight,
} from "../../kernels/types.ts";
import type { PackCacheReader, PackCacheWriter } from "../pack-cache.ts";

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
  /**
   * Where the weights that are packed at once are read ({@link readPackedWeight}): one buffer
   * reused for every such weight, instead of a fresh array per tensor that the garbage collector
   * must later free (at real size ~4 s of a ~11 s load went to collecting them).
   */
  readBuffer?: ReadBuffer;
  /**
   * The pack cache of this load (src/model/pack-cache.ts): a reader replays the packs in load order
   * instead of reading and packing the checkpoint; a writer records each fresh pack.
   */
  packCache?: { reader?: PackCacheReader; writer?: PackCacheWriter };
}

/** A grow-only byte buffer the loader reads weights into before packing them (see {@link LoadContext.readBuffer}). */
export class ReadBuffer {
  private buf = new Uint8Array(0);

  /** A view of the first `n` bytes (contents unspecified), growing the buffer when it is shorter. */
  bytes(n: number): Uint8Array {
    if (this.buf.byteLength < n) this.buf = new Uint8Array(n);
    return this.buf.subarray(0, n);
  }

  /** Drops the memory (the next {@link bytes} allocates again). */
  release(): void {
    this.buf = new Uint8Array(0);
  }
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

/**
 * Reads matmul weight `name` (`shape`, as {@link Checkpoint.readWeight}) and packs it for the
 * context's precision ({@link prepareWeight}). When it gets packed and the context has a
 * {@link LoadContext.readBuffer}, the stored values are read into that buffer rather than a
 * fresh array: the packed weight is a copy, so the buffer is free again for the next weight.
 * With a pack cache: replayed from it ({@link cachedPack}) without touching the checkpoint, or
 * recorded into it ({@link recordPack}).
 * @throws CheckpointError when the tensor is missing or has another shape; PackCacheMismatch /
 *   PackCacheReadError when a replayed cache holds another weight next or cannot be read
 */
export function readPackedWeight(ctx: LoadContext, name: string, shape: number[]): Weight {
  const cached = cachedPack(
    ctx,
    name,
    shape[0],
    shape.slice(1).reduce((a, b) => a * b, 1),
  );
  if (cached) return cached;
  const buf = packFormat(ctx) && ctx.readBuffer;
  const into = buf ? buf.bytes(ctx.ckpt.info(name).byteLength) : undefined;
  return recordPack(ctx, name, prepareWeight(ctx, ctx.ckpt.readWeight(name, shape, into)));
}

/**
 * When the context replays a pack cache: the cached pack of weight `name` (`[rows, cols]`),
 * collected in {@link LoadContext.packed}; otherwise undefined (nothing is packed, or nothing cached).
 * @throws PackCacheMismatch when the cache holds another weight next
 */
export function cachedPack(ctx: LoadContext, name: string, rows: number, cols: number): Weight | undefined {
  const format = packFormat(ctx);
  const reader = ctx.packCache?.reader;
  if (!format || !reader) return undefined;
  const p = reader.take(name, format, rows, cols);
  ctx.packed?.push(p);
  return p;
}

/** Records weight `name`'s fresh pack in the pack cache being written (if any); returns `w`. */
export function recordPack(ctx: LoadContext, name: string, w: Weight): Weight {
  const writer = ctx.packCache?.writer;
  if (writer && w.dtype === "packed") writer.add(name, w, w.format === "int8" ? INT8_GROUP : 0);
  return w;
}

/** A position-wise feed-forward network (dense SwiGLU MLP or MoE): `[m, hidden] -> [m, hidden]`. */
export interface FeedForward {
  forward(x: Float32Array, m: number): Float32Array;
}
