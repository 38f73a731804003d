/**
 * Typed errors of the checkpoint reader and writer (safetensors files and the
 * `model.safetensors.index.json` of sharded checkpoints).
 */

/**
 * Why a checkpoint operation failed.
 * - `truncated`: the file is shorter than 8 bytes, or a tensor's data runs past the end of the file.
 * - `bad-header`: the header is not valid JSON or a tensor entry is malformed
 *   (missing/invalid `dtype`, `shape` or `data_offsets`, `begin > end`, byte length != numel x itemsize).
 * - `header-too-long`: the 8-byte header length points past the end of the file (or exceeds 100 MB).
 * - `missing-tensor`: the requested tensor name is not in the checkpoint.
 * - `shape`: the stored shape differs from the one the caller asked for.
 * - `dtype`: unsupported dtype in a header, or a read whose conversion does not accept the stored dtype.
 * - `not-found`: no checkpoint file at the path (or a shard named by the index is missing).
 * - `bad-index`: `model.safetensors.index.json` is malformed or disagrees with its shards.
 */
export type CheckpointErrorCode =
  | "truncated"
  | "bad-header"
  | "header-too-long"
  | "missing-tensor"
  | "shape"
  | "dtype"
  | "not-found"
  | "bad-index";

/**
 * Error thrown by `openCheckpoint`, `readSafetensorsHeader`, the `Checkpoint` read methods and
 * the safetensors writers. The message is one line and starts with the file path, followed by the
 * tensor name when one is involved, e.g.
 * `/m/model.safetensors: tensor "lm_head.weight" data [8, 1032) ends past the end of the file (1000 bytes)`.
 */
export class CheckpointError extends Error {
  /** Machine-readable reason, see {@link CheckpointErrorCode}. */
  readonly code: CheckpointErrorCode;
  /** The file (shard, index, or directory) the error is about. */
  readonly file: string;
  /** The tensor involved, if any. */
  readonly tensor?: string;

  /**
   * @param code reason
   * @param file file the error is about (first part of the message)
   * @param detail the rest of the one-line message
   * @param tensor tensor name, when one is involved
   */
  constructor(code: CheckpointErrorCode, file: string, detail: string, tensor?: string) {
    super(`${file}: ${detail}`.replace(/\s*\n\s*/g, " "));
    this.name = "CheckpointError";
    this.code = code;
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}
