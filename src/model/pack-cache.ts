/**
 * The pack cache (issue 10, "repacking happens once at load, optionally cached on disk"): the
 * weights a `bf16` or `int8` load packs, written once to a file and read back by later loads
 * instead of reading and repacking the checkpoint.
 *
 * File: the packs' bytes one after another at 4096-byte boundaries (as the native kernels hold them,
 * `Kernels.savePacked`; a read maps them rather than copying), then a JSON header listing them in
 * load order, its byte length (u64 LE) and the 8-byte magic
 * `DSOCRPK1`. It is written to a temporary file and renamed into place, so a reader never sees a
 * half-written cache. The file name carries a key: the SHA-256 of {@link PACK_CACHE_VERSION}, the
 * precision, the int8 group, config.json's bytes and each safetensors file's name, size and
 * modification time (the checkpoint's identity, without reading its gigabytes). A cache whose
 * key, version or entries do not match is ignored and rewritten; one that matches but cannot be
 * read is left alone (the load goes on from the checkpoint).
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, join } from "node:path";
import type { Kernels, PackedWeight, PackFormat, Precision } from "../kernels/types.ts";

/** Bumped whenever a pack format's layout changes: older cache files then no longer match. */
export const PACK_CACHE_VERSION = 1;
const MAGIC = "DSOCRPK1";
const TRAILER = 16; // u64 header length + magic

/** A cache file that cannot be used (other key, version or weights, or truncated). */
export class PackCacheMismatch extends Error {
  constructor(file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = "PackCacheMismatch";
  }
}

/**
 * A cache file that matches but cannot be read or mapped (an I/O error, a file system without
 * mmap): rewriting it would not help, so the load goes on from the checkpoint and leaves it.
 */
export class PackCacheReadError extends Error {
  constructor(file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = "PackCacheReadError";
  }
}

/** One pack in the file. */
interface Entry {
  name: string;
  format: PackFormat;
  rows: number;
  cols: number;
  group: number;
  offset: number;
  bytes: number;
}

interface Header {
  version: number;
  key: string;
  entries: Entry[];
}

/**
 * The cache key of a checkpoint for a precision (hex SHA-256; see the module comment).
 * @param files the checkpoint's safetensors files (absolute paths)
 * @param configFile its config.json
 * @throws Error when a file cannot be read or stat'ed
 */
export function packCacheKey(
  files: readonly string[],
  configFile: string,
  precision: Precision,
  group: number,
): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ version: PACK_CACHE_VERSION, precision, group }));
  h.update(readFileSync(configFile));
  for (const f of [...files].sort()) {
    const st = statSync(f);
    h.update(JSON.stringify([basename(f), st.size, st.mtimeMs]));
  }
  return h.digest("hex");
}

/** The cache file of a key under `dir` (`packed-<precision>-<first 16 hex digits>.bin`). */
export function packCacheFile(dir: string, precision: Precision, key: string): string {
  return join(dir, `packed-${precision}-${key.slice(0, 16)}.bin`);
}

/** Replays a cache file's packs in load order ({@link take}). */
export class PackCacheReader {
  private next = 0;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    private readonly entries: Entry[],
    private readonly k: Kernels,
  ) {}

  /**
   * Opens `file` for `key`; null when it does not exist.
   * @throws PackCacheMismatch when it is not a complete cache for this key and version
   */
  static open(file: string, key: string, k: Kernels): PackCacheReader | null {
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch {
      return null;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < TRAILER) throw new PackCacheMismatch(file, "truncated");
      const tail = Buffer.alloc(TRAILER);
      readSync(fd, tail, 0, TRAILER, size - TRAILER);
      if (tail.toString("latin1", 8) !== MAGIC) throw new PackCacheMismatch(file, "not a pack cache (no trailer)");
      const hlen = Number(tail.readBigUInt64LE(0));
      if (hlen > size - TRAILER) throw new PackCacheMismatch(file, "truncated header");
      const hb = Buffer.alloc(hlen);
      readSync(fd, hb, 0, hlen, size - TRAILER - hlen);
      const h = JSON.parse(hb.toString("utf8")) as Header;
      if (h.version !== PACK_CACHE_VERSION || h.key !== key) throw new PackCacheMismatch(file, "other version or key");
      return new PackCacheReader(file, fd, h.entries, k);
    } catch (e) {
      closeSync(fd);
      throw e instanceof PackCacheMismatch ? e : new PackCacheMismatch(file, (e as Error).message);
    }
  }

  /**
   * The next pack, which must be weight `name` packed as `format` `[rows, cols]`.
   * @throws PackCacheMismatch when it is another weight; PackCacheReadError when it cannot be read
   */
  take(name: string, format: PackFormat, rows: number, cols: number): PackedWeight {
    const e = this.entries[this.next];
    if (!e || e.name !== name || e.format !== format || e.rows !== rows || e.cols !== cols) {
      throw new PackCacheMismatch(this.file, `entry ${this.next} is not ${name} (${format} [${rows}, ${cols}])`);
    }
    if (!this.k.loadPacked) throw new PackCacheReadError(this.file, "the kernels cannot read packs");
    let r: { weight: PackedWeight; fileBytes: number };
    try {
      r = this.k.loadPacked(this.fd, e.offset, format, rows, cols, e.group);
    } catch (err) {
      throw new PackCacheReadError(this.file, (err as Error).message);
    }
    if (r.fileBytes !== e.bytes) {
      this.k.releaseWeight?.(r.weight);
      throw new PackCacheMismatch(this.file, `${name}: ${e.bytes} bytes in the file, the format takes ${r.fileBytes}`);
    }
    this.next++;
    return r.weight;
  }

  /** @throws PackCacheMismatch when packs were left unread (the model loaded fewer weights) */
  finish(): void {
    if (this.next !== this.entries.length)
      throw new PackCacheMismatch(this.file, `${this.entries.length - this.next} packs left unread`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Records the packs of a load ({@link add}) and writes the cache file ({@link commit}). */
export class PackCacheWriter {
  private readonly entries: Entry[] = [];
  private offset = 0;
  private readonly tmp: string;
  private fd: number | null;
  private error: string | null = null;

  /**
   * Starts `file` (written as `<file>.<pid>.tmp`, created with its directory).
   * @throws Error when the directory or file cannot be created
   */
  constructor(
    readonly file: string,
    private readonly key: string,
    private readonly k: Kernels,
  ) {
    mkdirSync(join(file, ".."), { recursive: true });
    this.tmp = `${file}.${process.pid}.tmp`;
    this.fd = openSync(this.tmp, "w");
  }

  /**
   * Appends weight `name`'s pack. A failed write (a full disk) does not throw: the writer stops,
   * drops its file, and {@link commit} reports the error, so the load itself goes on.
   */
  add(name: string, w: PackedWeight, group: number): void {
    if (this.fd === null || this.error) return;
    // (savePacked: page-aligned positions, each pack spanning whole pages, so this.offset stays aligned)
    try {
      if (!this.k.savePacked) throw new Error("the kernels cannot write packs");
      const bytes = this.k.savePacked(w, this.fd, this.offset);
      this.entries.push({ name, format: w.format, rows: w.rows, cols: w.cols, group, offset: this.offset, bytes });
      this.offset += bytes;
    } catch (e) {
      this.error = (e as Error).message;
      this.abort();
    }
  }

  /** Writes the header and moves the file into place. @throws Error on a failed write or rename */
  commit(): void {
    if (this.error) throw new Error(`${this.file}: ${this.error}`);
    if (this.fd === null) throw new Error(`${this.file}: already committed or aborted`);
    const header: Header = { version: PACK_CACHE_VERSION, key: this.key, entries: this.entries };
    const hb = Buffer.from(JSON.stringify(header), "utf8");
    const tail = Buffer.alloc(TRAILER);
    tail.writeBigUInt64LE(BigInt(hb.length), 0);
    tail.write(MAGIC, 8, "latin1");
    const out = Buffer.concat([hb, tail]);
    writeAll(this.fd, out, this.offset);
    closeSync(this.fd);
    this.fd = null;
    renameSync(this.tmp, this.file);
  }

  /** Drops the temporary file (idempotent). */
  abort(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.tmp, { force: true });
  }
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}
