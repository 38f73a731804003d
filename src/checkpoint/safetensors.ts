/**
 * safetensors reader: single files and sharded checkpoints (`model.safetensors.index.json`).
 *
 * File format (https://github.com/huggingface/safetensors, spec 2.1):
 * `[u64 little-endian N][N bytes of UTF-8 JSON header][data]`. The header maps each tensor
 * name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the start of the
 * data section, i.e. absolute offset = 8 + N + begin) plus an optional `__metadata__`
 * string map. Tensor data is little-endian, row-major.
 *
 * Reads are lazy: headers are parsed at open time, the data of one tensor is read on request with
 * `fs.readSync` at its file offset. File descriptors stay open until {@link Checkpoint.close}.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { PlainWeight } from "../kernels/types.ts";
import { bf16ToF32, DTYPE_SIZE, f16ToF32, isDType, numel } from "./dtype.ts";
import { CheckpointError } from "./errors.ts";
import type { Checkpoint, DType, TensorInfo } from "./types.ts";

/** Largest header the reference implementation accepts (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Name of the index file of a sharded checkpoint. */
export const INDEX_FILE = "model.safetensors.index.json";
/** Name of a single-file checkpoint. */
export const SINGLE_FILE = "model.safetensors";

/** Largest single `readSync` call (bytes); bigger tensors are read in pieces. */
const READ_CHUNK = 1 << 30;

/** Parsed header of one safetensors file. */
export interface SafetensorsHeader {
  /** Absolute path of the file. */
  file: string;
  /** File size in bytes. */
  fileSize: number;
  /** N, the JSON header length in bytes (padding included). */
  headerLength: number;
  /** Absolute offset of the data section: 8 + N. */
  dataOffset: number;
  /** `__metadata__` (string values), or null when absent. */
  metadata: Record<string, string> | null;
  /** The tensors in header order, with absolute offsets. */
  tensors: TensorInfo[];
}

/**
 * Reads and validates the header of one safetensors file (format above).
 *
 * Checks: file at least 8 bytes; header length <= file size - 8 and <= {@link MAX_HEADER_BYTES};
 * header is a JSON object; every entry has a supported dtype (BF16, F16, F32, I64, I32, U8, I8), a shape of
 * non-negative integers and `data_offsets` [begin, end] of non-negative integers with begin <= end and
 * end - begin == numel x itemsize; the data lies inside the file.
 *
 * @param file path of a `.safetensors` file
 * @returns the parsed header
 * @throws CheckpointError codes "not-found", "truncated", "header-too-long", "bad-header", "dtype"
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const path = resolve(file);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new CheckpointError("not-found", path, `cannot open safetensors file (${errCode(e)})`);
  }
  try {
    return readHeaderFd(fd, path);
  } finally {
    closeSync(fd);
  }
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? String(e);
}

/** `into`, checked to hold tensor `t` from its front as a typed array of any element size. */
function intoView(t: TensorInfo, into: Uint8Array): Uint8Array {
  if (into.byteLength < t.byteLength || into.byteOffset % 4 !== 0) {
    throw new RangeError(
      `readWeight: tensor "${t.name}" needs ${t.byteLength} bytes at a 4-byte aligned offset; the buffer has ${into.byteLength} at offset ${into.byteOffset}`,
    );
  }
  return into;
}

/** Reads exactly `length` bytes at `position` into `dst` (from dst offset 0). */
function readExact(fd: number, dst: Uint8Array, position: number, file: string, tensor?: string): void {
  let done = 0;
  while (done < dst.byteLength) {
    const want = Math.min(READ_CHUNK, dst.byteLength - done);
    const n = readSync(fd, dst, done, want, position + done);
    if (n <= 0) {
      throw new CheckpointError(
        "truncated",
        file,
        `${tensor !== undefined ? `tensor "${tensor}": ` : ""}unexpected end of file at byte ${position + done}`,
        tensor,
      );
    }
    done += n;
  }
}

function readHeaderFd(fd: number, file: string): SafetensorsHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) {
    throw new CheckpointError("truncated", file, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
  }
  const lenBuf = Buffer.alloc(8);
  readExact(fd, lenBuf, 0, file);
  const n64 = lenBuf.readBigUInt64LE(0);
  if (n64 > BigInt(fileSize - 8)) {
    throw new CheckpointError(
      "header-too-long",
      file,
      `header length ${n64} is larger than the rest of the file (${fileSize - 8} bytes)`,
    );
  }
  const headerLength = Number(n64);
  if (headerLength > MAX_HEADER_BYTES) {
    throw new CheckpointError("header-too-long", file, `header length ${headerLength} exceeds ${MAX_HEADER_BYTES}`);
  }
  const hbuf = Buffer.alloc(headerLength);
  readExact(fd, hbuf, 8, file);
  const dataOffset = 8 + headerLength;
  let json: unknown;
  try {
    json = JSON.parse(hbuf.toString("utf8"));
  } catch (e) {
    throw new CheckpointError("bad-header", file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new CheckpointError("bad-header", file, "header is not a JSON object");
  }
  let metadata: Record<string, string> | null = null;
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
        throw new CheckpointError("bad-header", file, "__metadata__ is not a JSON object");
      }
      metadata = {};
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        metadata[k] = typeof v === "string" ? v : JSON.stringify(v);
      }
      continue;
    }
    tensors.push(parseEntry(name, entry, file, fileSize, dataOffset));
  }
  return { file, fileSize, headerLength, dataOffset, metadata, tensors };
}

function parseEntry(name: string, entry: unknown, file: string, fileSize: number, dataOffset: number): TensorInfo {
  const bad = (why: string): never => {
    throw new CheckpointError("bad-header", file, `tensor "${name}": ${why}`, name);
  };
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) bad("entry is not a JSON object");
  const e = entry as Record<string, unknown>;
  if (typeof e.dtype !== "string") bad("missing dtype");
  if (!isDType(e.dtype)) {
    throw new CheckpointError(
      "dtype",
      file,
      `tensor "${name}": unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(", ")})`,
      name,
    );
  }
  const dtype = e.dtype as DType;
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    bad(`data_offsets ${JSON.stringify(offs)} is not [begin, end] of non-negative integers`);
  }
  const [begin, end] = offs as [number, number];
  if (begin > end) bad(`data_offsets begin ${begin} > end ${end}`);
  let count: number;
  try {
    count = numel(shape as number[]);
  } catch {
    return bad(`shape ${JSON.stringify(shape)} has too many elements`);
  }
  const byteLength = end - begin;
  if (byteLength !== count * DTYPE_SIZE[dtype]) {
    bad(
      `data length ${byteLength} bytes != ${count} elements x ${DTYPE_SIZE[dtype]} bytes (${dtype} [${(shape as number[]).join(", ")}])`,
    );
  }
  if (dataOffset + end > fileSize) {
    throw new CheckpointError(
      "truncated",
      file,
      `tensor "${name}": data [${dataOffset + begin}, ${dataOffset + end}) ends past the end of the file (${fileSize} bytes)`,
      name,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], file, offset: dataOffset + begin, byteLength };
}

/** Formats a shape for messages. */
function fmtShape(s: readonly number[]): string {
  return `[${s.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * A checkpoint opened by {@link openCheckpoint}. Implements {@link Checkpoint} plus a few extras
 * (`metadata`, `readTyped`, `files`).
 */
export class SafetensorsCheckpoint implements Checkpoint {
  readonly dir: string;
  /** The file named in error messages about the whole checkpoint (the single file, or the index). */
  readonly source: string;
  private readonly tensors: Map<string, TensorInfo>;
  private readonly fds: Map<string, number>;
  private readonly meta: Record<string, string> | null;
  private closed = false;

  /** @internal use {@link openCheckpoint}. */
  constructor(
    dir: string,
    source: string,
    tensors: Map<string, TensorInfo>,
    fds: Map<string, number>,
    metadata: Record<string, string> | null,
  ) {
    this.dir = dir;
    this.source = source;
    this.tensors = tensors;
    this.fds = fds;
    this.meta = metadata;
  }

  /** Tensor names, in header order (single file) or `weight_map` order (sharded). */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** True when the checkpoint holds a tensor of this name. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** Absolute paths of the open safetensors files. */
  files(): string[] {
    return [...this.fds.keys()];
  }

  /** `__metadata__` of the single file, or the `metadata` object of the index (values stringified); null if none. */
  metadata(): Record<string, string> | null {
    return this.meta ? { ...this.meta } : null;
  }

  /**
   * Header entry of one tensor (a copy): dtype, shape, shard file, absolute data offset, byte length.
   * @throws CheckpointError code "missing-tensor"
   */
  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) {
      throw new CheckpointError(
        "missing-tensor",
        this.source,
        `tensor "${name}" not found (checkpoint has ${this.tensors.size} tensors)`,
        name,
      );
    }
    return { ...t, shape: [...t.shape] };
  }

  private fdOf(t: TensorInfo): number {
    if (this.closed) throw new Error(`${this.source}: checkpoint is closed`);
    const fd = this.fds.get(t.file);
    if (fd === undefined) throw new Error(`${t.file}: no open file descriptor`);
    return fd;
  }

  /** Reads the raw bytes of `t` into `dst` (a view of exactly `t.byteLength` bytes). */
  private readInto(t: TensorInfo, dst: Uint8Array): void {
    readExact(this.fdOf(t), dst, t.offset, t.file, t.name);
  }

  /**
   * Raw little-endian bytes of one tensor, in a fresh Buffer with `byteOffset` 0 (so typed-array views
   * of any element size are aligned).
   * @throws CheckpointError codes "missing-tensor", "truncated"
   */
  readBytes(name: string): Buffer {
    const t = this.info(name);
    const buf = Buffer.from(new ArrayBuffer(t.byteLength));
    this.readInto(t, buf);
    return buf;
  }

  private checkShape(t: TensorInfo, shape: readonly number[] | undefined, allowFlat2d: boolean): void {
    if (!shape) return;
    if (sameShape(t.shape, shape)) return;
    if (allowFlat2d && shape.length === 2 && t.shape.length > 0) {
      const rows = t.shape[0];
      const cols = t.shape.slice(1).reduce((a, b) => a * b, 1);
      if (shape[0] === rows && shape[1] === cols) return;
    }
    throw new CheckpointError(
      "shape",
      t.file,
      `tensor "${t.name}" has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`,
      t.name,
    );
  }

  private dtypeError(t: TensorInfo, what: string): CheckpointError {
    return new CheckpointError("dtype", t.file, `tensor "${t.name}" is ${t.dtype}, ${what}`, t.name);
  }

  private readU16(t: TensorInfo, into?: Uint8Array): Uint16Array {
    const arr = into
      ? new Uint16Array(intoView(t, into).buffer, into.byteOffset, t.byteLength / 2)
      : new Uint16Array(t.byteLength / 2);
    this.readInto(t, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    return arr;
  }

  /**
   * Values widened exactly to f32: BF16 bits << 16, F16 exactly, F32 as stored. Length = numel.
   * @param shape when given, must equal the stored shape
   * @throws CheckpointError codes "missing-tensor", "shape", "dtype" (not BF16/F16/F32), "truncated"
   */
  readF32(name: string, shape?: number[]): Float32Array {
    const t = this.info(name);
    this.checkShape(t, shape, false);
    return this.readF32Info(t);
  }

  private readF32Info(t: TensorInfo, into?: Uint8Array): Float32Array {
    switch (t.dtype) {
      case "F32": {
        const arr = into
          ? new Float32Array(intoView(t, into).buffer, into.byteOffset, t.byteLength / 4)
          : new Float32Array(t.byteLength / 4);
        this.readInto(t, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
        return arr;
      }
      case "BF16":
        return bf16ToF32(this.readU16(t));
      case "F16":
        return f16ToF32(this.readU16(t));
      default:
        throw this.dtypeError(t, "readF32 accepts BF16, F16 or F32");
    }
  }

  /**
   * A weight for the kernels (`Weight`, spec 10): rows = shape[0], cols = product of the other
   * dimensions (a 1-D tensor [n] gives rows n, cols 1; a 0-D scalar rows 1, cols 1). BF16 stays bf16
   * bits in a `Uint16Array` (no f32 copy), F32 stays f32, F16 is widened to f32.
   * @param shape when given, must equal the stored shape, or be the flattened 2-D `[rows, cols]`
   * @param into a buffer to read a BF16 or F32 tensor into (the weight is a view of it; see
   *   {@link Checkpoint.readWeight}); an F16 tensor is widened into a fresh array regardless
   * @throws CheckpointError codes "missing-tensor", "shape", "dtype" (not BF16/F16/F32), "truncated";
   *   RangeError when `into` is shorter than the tensor or not 4-byte aligned
   */
  readWeight(name: string, shape?: number[], into?: Uint8Array): PlainWeight {
    const t = this.info(name);
    this.checkShape(t, shape, true);
    const rows = t.shape.length > 0 ? t.shape[0] : 1;
    const cols = t.shape.slice(1).reduce((a, b) => a * b, 1);
    switch (t.dtype) {
      case "BF16":
        return { dtype: "bf16", data: this.readU16(t, into), rows, cols };
      case "F32":
        return { dtype: "f32", data: this.readF32Info(t, into), rows, cols };
      case "F16":
        return { dtype: "f32", data: this.readF32Info(t), rows, cols };
      default:
        throw this.dtypeError(t, "readWeight accepts BF16, F16 or F32");
    }
  }

  /**
   * The tensor as a typed array of its own dtype: BF16/F16 -> Uint16Array (bit patterns), F32 -> Float32Array,
   * I64 -> BigInt64Array, I32 -> Int32Array, U8 -> Uint8Array, I8 -> Int8Array.
   * @throws CheckpointError codes "missing-tensor", "shape", "truncated"
   */
  readTyped(
    name: string,
    shape?: number[],
  ): Uint16Array | Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array {
    const t = this.info(name);
    this.checkShape(t, shape, false);
    const buf = new ArrayBuffer(t.byteLength);
    this.readInto(t, new Uint8Array(buf));
    switch (t.dtype) {
      case "BF16":
      case "F16":
        return new Uint16Array(buf);
      case "F32":
        return new Float32Array(buf);
      case "I64":
        return new BigInt64Array(buf);
      case "I32":
        return new Int32Array(buf);
      case "U8":
        return new Uint8Array(buf);
      case "I8":
        return new Int8Array(buf);
    }
  }

  /** Closes every file descriptor. Idempotent; later reads throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds.values()) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

/**
 * Opens a checkpoint (spec 2.1):
 * - a directory with `model.safetensors.index.json` (sharded: the `weight_map` names the shard of every tensor),
 * - else a directory with `model.safetensors`,
 * - else a directory with exactly one `*.safetensors`,
 * - or a path to a `.safetensors` file, or to an index `.json` file.
 *
 * Every header is read and validated at open time (see {@link readSafetensorsHeader}); the files stay open
 * until `close()`. For a sharded checkpoint only the tensors listed in `weight_map` are exposed, and each of
 * them must be present in the shard the map names.
 *
 * @param path directory or file
 * @throws CheckpointError codes "not-found" (no checkpoint / a shard is missing), "bad-index", and every code of
 *   {@link readSafetensorsHeader}
 */
export function openCheckpoint(path: string): SafetensorsCheckpoint {
  const abs = resolve(path);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(abs);
  } catch (e) {
    throw new CheckpointError("not-found", abs, `no such checkpoint file or directory (${errCode(e)})`);
  }
  if (st.isDirectory()) {
    const index = join(abs, INDEX_FILE);
    if (existsSync(index)) return openSharded(index);
    const single = join(abs, SINGLE_FILE);
    if (existsSync(single)) return openSingle(single);
    const found = readdirSync(abs)
      .filter((f) => f.endsWith(".safetensors"))
      .sort();
    if (found.length === 1) return openSingle(join(abs, found[0]));
    if (found.length === 0) {
      throw new CheckpointError("not-found", abs, `no ${INDEX_FILE}, ${SINGLE_FILE} or other .safetensors file`);
    }
    throw new CheckpointError(
      "not-found",
      abs,
      `no ${INDEX_FILE} or ${SINGLE_FILE}, and ${found.length} .safetensors files (${found.join(", ")}): ambiguous`,
    );
  }
  if (abs.endsWith(".json")) return openSharded(abs);
  return openSingle(abs);
}

function openSingle(file: string): SafetensorsCheckpoint {
  const header = readSafetensorsHeader(file);
  const fd = openSync(file, "r");
  const tensors = new Map<string, TensorInfo>();
  for (const t of header.tensors) tensors.set(t.name, t);
  return new SafetensorsCheckpoint(dirname(file), file, tensors, new Map([[file, fd]]), header.metadata);
}

function openSharded(indexFile: string): SafetensorsCheckpoint {
  const dir = dirname(indexFile);
  let text: string;
  try {
    text = readFileSync(indexFile, "utf8");
  } catch (e) {
    throw new CheckpointError("not-found", indexFile, `cannot read index (${errCode(e)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError("bad-index", indexFile, `index is not valid JSON (${(e as Error).message})`);
  }
  const wm = (json as Record<string, unknown> | null)?.weight_map;
  if (json === null || typeof json !== "object" || wm === null || typeof wm !== "object" || Array.isArray(wm)) {
    throw new CheckpointError("bad-index", indexFile, "index has no weight_map object");
  }
  const weightMap = wm as Record<string, unknown>;
  const shardNames = new Set<string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== "string" || shard.length === 0 || shard.includes("/") || shard.includes("\\")) {
      throw new CheckpointError(
        "bad-index",
        indexFile,
        `weight_map["${name}"] is not a shard file name (${JSON.stringify(shard)})`,
        name,
      );
    }
    shardNames.add(shard);
  }
  const headers = new Map<string, SafetensorsHeader>();
  for (const shard of shardNames) {
    const file = join(dir, shard);
    if (!existsSync(file)) {
      throw new CheckpointError("not-found", indexFile, `shard ${shard} named in weight_map does not exist in ${dir}`);
    }
    headers.set(shard, readSafetensorsHeader(file));
  }
  const tensors = new Map<string, TensorInfo>();
  const byShard = new Map<string, Map<string, TensorInfo>>();
  for (const [shard, h] of headers) byShard.set(shard, new Map(h.tensors.map((t) => [t.name, t])));
  for (const [name, shard] of Object.entries(weightMap)) {
    const t = byShard.get(shard as string)?.get(name);
    if (!t) {
      throw new CheckpointError(
        "bad-index",
        indexFile,
        `weight_map puts tensor "${name}" in ${shard}, which does not contain it`,
        name,
      );
    }
    tensors.set(name, t);
  }
  const fds = new Map<string, number>();
  try {
    for (const h of headers.values()) fds.set(h.file, openSync(h.file, "r"));
  } catch (e) {
    for (const fd of fds.values()) closeSync(fd);
    throw new CheckpointError("not-found", indexFile, `cannot open a shard (${errCode(e)})`);
  }
  const md = (json as Record<string, unknown>).metadata;
  let metadata: Record<string, string> | null = null;
  if (md && typeof md === "object" && !Array.isArray(md)) {
    metadata = {};
    for (const [k, v] of Object.entries(md as Record<string, unknown>)) {
      metadata[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
  }
  return new SafetensorsCheckpoint(dir, indexFile, tensors, fds, metadata);
}
