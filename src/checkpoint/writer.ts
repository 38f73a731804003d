/**
 * safetensors writers: in-memory, streaming (tensor by tensor, chunk by chunk) and sharded
 * (`model-0000i-of-0000n.safetensors` + `model.safetensors.index.json`).
 *
 * Layout written (as the reference `safetensors` implementation): `[u64 LE N][JSON header][data]`,
 * the header JSON is compact (`__metadata__` first, then the tensors in data order, each
 * `{"dtype","shape","data_offsets"}`) and padded with spaces so that N is a multiple of 8; the data
 * section is the tensors back to back, little-endian, row-major. Every file is written to a temporary
 * file in the same directory and renamed into place, so a crash never leaves a half-written checkpoint
 * under the final name.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempPathFor, writeFileAtomicSync } from "../util/atomic.ts";
import { DTYPE_SIZE, numel } from "./dtype.ts";
import { CheckpointError } from "./errors.ts";
import { INDEX_FILE } from "./safetensors.ts";
import type { DType } from "./types.ts";

/** Name, dtype and shape of a tensor to write (its data comes separately). */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

/**
 * Tensor data: raw little-endian bytes (`Uint8Array`/`Buffer`) or any typed array whose bytes are the
 * values (e.g. `Uint16Array` of bf16/f16 bit patterns, `Float32Array` for F32, `Int32Array`, `BigInt64Array`).
 */
export type TensorBytes = ArrayBufferView;

/** A tensor with its data, for {@link writeSafetensors}. */
export interface TensorEntry extends TensorSpec {
  data: TensorBytes;
}

/**
 * Supplies the data of one tensor to a streaming writer: either call `write(chunk)` any number of times
 * (chunks are appended in order) or return the whole data (or both: the returned data is written after the
 * chunks). The total must be exactly numel x itemsize bytes.
 */
export type TensorProducer = (spec: TensorSpec, write: (chunk: TensorBytes) => void) => TensorBytes | undefined;

/** A serialized header and the data layout it describes. */
export interface SafetensorsLayout {
  /** The first 8 + N bytes of the file: u64 LE N, then the space-padded JSON. */
  header: Buffer;
  /** Byte length of each tensor, in spec order. */
  byteLengths: number[];
  /** Data section size (sum of byteLengths). */
  dataLength: number;
  /** Whole file size: header.length + dataLength. */
  fileSize: number;
}

function asBytes(v: TensorBytes): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function checkSpec(s: TensorSpec, file: string): number {
  if (typeof s.name !== "string" || s.name.length === 0 || s.name === "__metadata__") {
    throw new CheckpointError("bad-header", file, `invalid tensor name ${JSON.stringify(s.name)}`);
  }
  if (!Object.hasOwn(DTYPE_SIZE, s.dtype)) {
    throw new CheckpointError(
      "dtype",
      file,
      `tensor "${s.name}": unsupported dtype ${JSON.stringify(s.dtype)}`,
      s.name,
    );
  }
  let n: number;
  try {
    n = numel(s.shape);
  } catch (e) {
    throw new CheckpointError("shape", file, `tensor "${s.name}": ${(e as Error).message}`, s.name);
  }
  return n * DTYPE_SIZE[s.dtype];
}

/**
 * Serializes the header for tensors written in the given order (no reordering).
 * @param specs tensors in data order; names must be unique
 * @param metadata `__metadata__` string map (omitted when undefined or empty)
 * @param file used in error messages only
 * @throws CheckpointError codes "bad-header" (duplicate/invalid name), "dtype", "shape"
 */
export function buildSafetensorsLayout(
  specs: readonly TensorSpec[],
  metadata?: Record<string, string>,
  file = "<safetensors>",
): SafetensorsLayout {
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new CheckpointError("bad-header", file, `__metadata__["${k}"] must be a string (got ${typeof v})`);
      }
    }
    obj.__metadata__ = metadata;
  }
  const byteLengths: number[] = [];
  let offset = 0;
  for (const s of specs) {
    const len = checkSpec(s, file);
    if (Object.hasOwn(obj, s.name)) {
      throw new CheckpointError("bad-header", file, `duplicate tensor name "${s.name}"`, s.name);
    }
    obj[s.name] = { dtype: s.dtype, shape: [...s.shape], data_offsets: [offset, offset + len] };
    byteLengths.push(len);
    offset += len;
  }
  const json = Buffer.from(JSON.stringify(obj), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header, byteLengths, dataLength: offset, fileSize: header.length + offset };
}

/** Rank of each dtype in the reference implementation's `Dtype` enum (declared in increasing alignment). */
const DTYPE_RANK: Readonly<Record<DType, number>> = { U8: 1, I8: 2, F16: 7, BF16: 8, I32: 9, F32: 11, I64: 13 };

/**
 * Orders tensors as the reference implementation's `serialize` does: descending `Dtype` enum order
 * (I64, F32, I32, BF16, F16, I8, U8), then by name (byte-wise UTF-8 comparison).
 * @returns a sorted copy
 */
export function referenceOrder<T extends TensorSpec>(specs: readonly T[]): T[] {
  return [...specs].sort(
    (a, b) =>
      DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] ||
      Buffer.compare(Buffer.from(a.name, "utf8"), Buffer.from(b.name, "utf8")),
  );
}

function writeAll(fd: number, bytes: Uint8Array, file: string): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
  }
  if (done !== bytes.byteLength) throw new Error(`${file}: short write`);
}

/**
 * Streaming safetensors writer: the header is computed from the specs up front, then the tensors' data
 * is appended in spec order, whole or in chunks, without holding more than one chunk. `finish()` checks
 * that every byte was written, fsyncs and renames the temporary file to `file`.
 *
 * ```ts
 * const w = new SafetensorsWriter(path, specs, { format: "pt" });
 * for (const s of specs) w.write(s.name, dataOf(s)); // or several w.write(s.name, chunk) per tensor
 * w.finish();
 * ```
 */
export class SafetensorsWriter {
  /** Final path. */
  readonly file: string;
  /** Tensors in data order. */
  readonly specs: readonly TensorSpec[];
  /** Header and sizes. */
  readonly layout: SafetensorsLayout;
  private readonly tmp: string;
  private fd: number | null;
  private index = 0;
  private written = 0;

  /**
   * Creates the temporary file and writes the header.
   * @param file destination path (its directory must exist)
   * @param specs tensors in the order their data will be written
   * @param metadata optional `__metadata__`
   * @throws CheckpointError for invalid specs; Node fs errors for I/O failures
   */
  constructor(file: string, specs: readonly TensorSpec[], metadata?: Record<string, string>) {
    this.file = resolve(file);
    this.specs = specs.map((s) => ({ name: s.name, dtype: s.dtype, shape: [...s.shape] }));
    this.layout = buildSafetensorsLayout(this.specs, metadata, this.file);
    this.tmp = tempPathFor(this.file);
    this.fd = openSync(this.tmp, "w");
    try {
      writeAll(this.fd, this.layout.header, this.file);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.skipEmpty();
  }

  /** Advances past zero-byte tensors. */
  private skipEmpty(): void {
    while (this.index < this.specs.length && this.layout.byteLengths[this.index] === 0) this.index++;
  }

  /** Index (in `specs`) of the first tensor whose data is not complete; `specs.length` when all is written. */
  get position(): number {
    return this.index;
  }

  /** Name of the tensor the next `write` must belong to, or null when all data has been written. */
  get next(): string | null {
    return this.index < this.specs.length ? this.specs[this.index].name : null;
  }

  /**
   * Appends data of tensor `name`, which must be the current tensor (the first one not yet complete).
   * @throws CheckpointError code "bad-header" when `name` is not the current tensor or the chunk overflows it
   */
  write(name: string, chunk: TensorBytes): void {
    if (this.fd === null) throw new Error(`${this.file}: writer is closed`);
    const bytes = asBytes(chunk);
    if (bytes.byteLength === 0) return;
    const cur = this.specs[this.index];
    if (!cur || cur.name !== name) {
      this.abort();
      throw new CheckpointError(
        "bad-header",
        this.file,
        `data for tensor "${name}" written out of order (expected ${cur ? `"${cur.name}"` : "no more data"})`,
        name,
      );
    }
    const need = this.layout.byteLengths[this.index] - this.written;
    if (bytes.byteLength > need) {
      this.abort();
      throw new CheckpointError(
        "shape",
        this.file,
        `tensor "${name}": ${this.written + bytes.byteLength} bytes written, ${this.layout.byteLengths[this.index]} expected (${cur.dtype} [${cur.shape.join(", ")}])`,
        name,
      );
    }
    try {
      writeAll(this.fd, bytes, this.file);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.written += bytes.byteLength;
    if (this.written === this.layout.byteLengths[this.index]) {
      this.index++;
      this.written = 0;
      this.skipEmpty();
    }
  }

  /**
   * Completes the file: checks that all data was written, fsyncs, renames the temp file to `file`.
   * @throws CheckpointError code "shape" when tensors are incomplete (the temp file is removed)
   */
  finish(): void {
    if (this.fd === null) throw new Error(`${this.file}: writer is closed`);
    if (this.index < this.specs.length) {
      const cur = this.specs[this.index];
      this.abort();
      throw new CheckpointError(
        "shape",
        this.file,
        `tensor "${cur.name}": only ${this.written} of ${this.layout.byteLengths[this.index]} bytes written before finish()`,
        cur.name,
      );
    }
    const fd = this.fd;
    this.fd = null;
    try {
      fsyncSync(fd);
      closeSync(fd);
      renameSync(this.tmp, this.file);
    } catch (e) {
      rmSync(this.tmp, { force: true });
      throw e;
    }
  }

  /** Closes and deletes the temporary file (no-op after finish). */
  abort(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // ignore
      }
      this.fd = null;
    }
    rmSync(this.tmp, { force: true });
  }
}

/**
 * Writes one safetensors file from tensors held in memory. Tensors are stored in the reference order
 * ({@link referenceOrder}) unless `opts.keepOrder` is set.
 *
 * @param file destination path (directory must exist); written atomically (temp file + rename)
 * @param tensors each `data` must be exactly numel x itemsize bytes
 * @param metadata optional `__metadata__` string map
 * @throws CheckpointError codes "bad-header", "dtype", "shape"
 */
export function writeSafetensors(
  file: string,
  tensors: readonly TensorEntry[],
  metadata?: Record<string, string>,
  opts: { keepOrder?: boolean } = {},
): void {
  const ordered = opts.keepOrder ? [...tensors] : referenceOrder(tensors);
  const byName = new Map(ordered.map((t) => [t.name, t]));
  writeSafetensorsStreaming(file, ordered, (s) => byName.get(s.name)!.data, metadata);
}

/**
 * Writes one safetensors file tensor by tensor: the header is computed from `specs`, then `produce` is
 * called once per tensor, in `specs` order, and may hand its data over in chunks, so only one chunk needs
 * to be in memory. Atomic (temp file + rename); on any error the temp file is removed.
 *
 * @param file destination path
 * @param specs tensors in data order (not reordered)
 * @param produce supplies each tensor's data (see {@link TensorProducer})
 * @param metadata optional `__metadata__`
 * @returns the file size in bytes
 * @throws CheckpointError codes "bad-header", "dtype", "shape" (wrong amount of data)
 */
export function writeSafetensorsStreaming(
  file: string,
  specs: readonly TensorSpec[],
  produce: TensorProducer,
  metadata?: Record<string, string>,
): number {
  const w = new SafetensorsWriter(file, specs, metadata);
  try {
    for (let i = 0; i < w.specs.length; i++) {
      const s = w.specs[i];
      const len = w.layout.byteLengths[i];
      const ret = produce(s, (chunk) => w.write(s.name, chunk));
      if (ret) w.write(s.name, ret);
      // A tensor is complete when the writer has moved past it.
      if (len > 0 && w.position <= i) {
        throw new CheckpointError("shape", w.file, `tensor "${s.name}": producer supplied too few bytes`, s.name);
      }
    }
    w.finish();
  } catch (e) {
    w.abort();
    throw e;
  }
  return w.layout.fileSize;
}

/** Options of {@link writeShardedSafetensors}. */
export interface ShardOptions {
  /**
   * Largest data section of one shard in bytes. Tensors are packed in `specs` order; a tensor larger than
   * this gets a shard of its own.
   */
  maxShardBytes: number;
  /** `__metadata__` of every shard (e.g. `{ format: "pt" }`). */
  metadata?: Record<string, string>;
  /** Extra keys for the index's `metadata` object (`total_size` is always set). */
  indexMetadata?: Record<string, unknown>;
  /** Within each shard, store tensors in the reference order ({@link referenceOrder}). Default true. */
  referenceOrder?: boolean;
  /** Called after each shard is complete. */
  onShard?: (file: string, index: number, count: number) => void;
}

/** Result of {@link writeShardedSafetensors}. */
export interface ShardedResult {
  /** Absolute paths of the shards, in order. */
  shards: string[];
  /** Absolute path of `model.safetensors.index.json`. */
  indexFile: string;
  /** `metadata.total_size`: sum of the tensors' data bytes (headers excluded), as Hugging Face computes it. */
  totalSize: number;
}

/** The shard file name Hugging Face uses: `model-00001-of-00003.safetensors` (1-based, 5 digits). */
export function shardFileName(i: number, n: number): string {
  return `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;
}

/**
 * Splits tensors into shards of at most `maxShardBytes` data bytes, in order.
 * @returns shard groups (arrays of specs), at least one
 * @throws RangeError when maxShardBytes is not a positive number
 */
export function planShards<T extends TensorSpec>(specs: readonly T[], maxShardBytes: number): T[][] {
  if (!(maxShardBytes > 0)) throw new RangeError(`maxShardBytes must be > 0 (got ${maxShardBytes})`);
  const groups: T[][] = [[]];
  let cur = 0;
  for (const s of specs) {
    const len = numel(s.shape) * DTYPE_SIZE[s.dtype];
    if (cur > 0 && cur + len > maxShardBytes) {
      groups.push([]);
      cur = 0;
    }
    groups[groups.length - 1].push(s);
    cur += len;
  }
  return groups;
}

/**
 * Writes a sharded checkpoint: `model-0000i-of-0000n.safetensors` files (see {@link planShards}) and
 * `model.safetensors.index.json` = `{"metadata": {"total_size": ...}, "weight_map": {name: shard}}`
 * (weight_map sorted by name). Streams like {@link writeSafetensorsStreaming}; each shard and the index are
 * written atomically, the index last.
 *
 * @param dir destination directory (must exist)
 * @param specs all tensors; names must be unique
 * @param produce supplies each tensor's data
 * @param opts shard size and metadata
 * @throws CheckpointError codes "bad-header", "dtype", "shape"; RangeError for a bad maxShardBytes
 */
export function writeShardedSafetensors(
  dir: string,
  specs: readonly TensorSpec[],
  produce: TensorProducer,
  opts: ShardOptions,
): ShardedResult {
  const root = resolve(dir);
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) {
      throw new CheckpointError("bad-header", join(root, INDEX_FILE), `duplicate tensor name "${s.name}"`, s.name);
    }
    seen.add(s.name);
  }
  const groups = planShards(specs, opts.maxShardBytes);
  const shards: string[] = [];
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  groups.forEach((g, i) => {
    const name = shardFileName(i, groups.length);
    const file = join(root, name);
    const ordered = opts.referenceOrder === false ? g : referenceOrder(g);
    writeSafetensorsStreaming(file, ordered, produce, opts.metadata);
    for (const s of ordered) {
      weightMap[s.name] = name;
      totalSize += numel(s.shape) * DTYPE_SIZE[s.dtype];
    }
    shards.push(file);
    opts.onShard?.(file, i, groups.length);
  });
  const sortedMap: Record<string, string> = {};
  for (const k of Object.keys(weightMap).sort()) sortedMap[k] = weightMap[k];
  const indexFile = join(root, INDEX_FILE);
  writeFileAtomicSync(
    indexFile,
    `${JSON.stringify({ metadata: { ...(opts.indexMetadata ?? {}), total_size: totalSize }, weight_map: sortedMap }, null, 2)}\n`,
  );
  return { shards, indexFile, totalSize };
}
