/**
 * Atomic file writes for the pipeline's outputs (markdown, image crops, caches): a reader, or a
 * run interrupted at any point, sees either the old file or the complete new one, never a
 * partial file.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** Permission bits of a newly created file (before the umask). Default 0o666. */
  mode?: number;
}

/** A temporary path beside `path` (same directory, so rename() is atomic). */
export function tempPathFor(path: string): string {
  // Same directory, so that rename() stays on one file system and is atomic.
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

/**
 * Writes `data` to `path` atomically: the bytes go to a temporary file in the same directory
 * (`.<name>.<pid>.<random>.tmp`), which is fsync'ed and then renamed over `path`; the directory
 * is fsync'ed afterwards (best effort; not every platform allows it). On any failure the
 * temporary file is removed and the error is rethrown; `path` is left as it was.
 *
 * The directory must exist. An existing file at `path` is replaced (its permissions are not
 * carried over).
 *
 * @param path destination file.
 * @param data file contents; a string is written as UTF-8.
 * @param opts `mode` of the new file.
 * @throws the underlying `NodeJS.ErrnoException` (e.g. ENOENT for a missing directory, EISDIR
 *   when `path` is a directory, ENOSPC).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: WriteFileAtomicOptions = {},
): Promise<void> {
  const tmp = tempPathFor(path);
  let fh: FileHandle | undefined;
  let created = false;
  let renamed = false;
  try {
    fh = await open(tmp, "wx", opts.mode ?? 0o666);
    created = true;
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
    renamed = true;
    await syncDir(dirname(path));
  } finally {
    if (fh) await fh.close().catch(() => {});
    if (created && !renamed) await unlink(tmp).catch(() => {});
  }
}

/**
 * Synchronous {@link writeFileAtomic}, for exit handlers and other places that cannot await.
 * Same guarantees and errors.
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: WriteFileAtomicOptions = {}): void {
  const tmp = tempPathFor(path);
  let fd: number | undefined;
  let created = false;
  let renamed = false;
  try {
    fd = openSync(tmp, "wx", opts.mode ?? 0o666);
    created = true;
    writeFileSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    renamed = true;
    try {
      const d = openSync(dirname(path), "r");
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    } catch {
      // directory fsync is not supported everywhere (e.g. Windows); the rename is done
    }
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {}
    }
    if (created && !renamed) {
      try {
        unlinkSync(tmp);
      } catch {}
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // directory fsync is not supported everywhere (e.g. Windows); the rename is done
  }
}
