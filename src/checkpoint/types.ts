/**
 * Read access to a Hugging Face checkpoint directory (safetensors, single file or sharded).
 * Implemented by `safetensors.ts` (`openCheckpoint`). Tensors are read lazily by file offset:
 * a multi-GB shard is never loaded into one Buffer.
 */
import type { PlainWeight } from "../kernels/types.ts";

/** safetensors dtypes this project reads and writes. */
export type DType = "BF16" | "F16" | "F32" | "I64" | "I32" | "U8" | "I8";

/** One tensor's header entry. */
export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute path of the shard holding it. */
  file: string;
  /** Absolute byte offset of the data in that file (header included). */
  offset: number;
  byteLength: number;
}

/** An open checkpoint. */
export interface Checkpoint {
  /** Directory it was opened from. */
  readonly dir: string;
  names(): string[];
  has(name: string): boolean;
  /** @throws CheckpointError (code "missing-tensor") */
  info(name: string): TensorInfo;
  /** Raw little-endian bytes of one tensor. @throws CheckpointError */
  readBytes(name: string): Buffer;
  /**
   * Values widened to f32 (BF16/F16/F32 only). When `shape` is given it must equal the stored shape.
   * @throws CheckpointError (codes "missing-tensor", "shape", "dtype", "truncated")
   */
  readF32(name: string, shape?: number[]): Float32Array;
  /**
   * A 2-D (or flattened N-D: rows = shape[0], cols = product of the rest) weight for the kernels:
   * BF16 stays bf16 (no f32 copy), F32 stays f32, F16 is widened to f32.
   * @param into when given (and the tensor is BF16 or F32), the data is read into the front of this
   *   buffer (at least the tensor's byte length, byteOffset a multiple of 4) and the weight is a view
   *   of it: valid until the buffer is reused. Loaders that pack a weight at once read every weight
   *   into one such buffer instead of allocating (and later collecting) gigabytes of arrays.
   * @throws CheckpointError; RangeError when `into` is too small or misaligned
   */
  readWeight(name: string, shape?: number[], into?: Uint8Array): PlainWeight;
  /** Releases file handles. */
  close(): void;
}
