/**
 * Input documents as page sources: a PDF (rendered with PDFium at a dpi, spec 3.1), a multi-page
 * TIFF (every page), or one image (GIF/WebP: the first frame). Also the SHA-256 of an input
 * file, which identifies it for `--resume`.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { extname } from "node:path";
import { openPdf } from "../pdf/document.ts";
import { decodeImage, ImageDecodeError, probeImage } from "../preprocess/decode.ts";
import type { RgbImage } from "../preprocess/image.ts";

/** Pages of one input file. */
export interface PageSource {
  /** The path as given to {@link openInput}. */
  readonly path: string;
  /** "pdf" for PDFs (pages rendered), "image" for everything else (pages decoded). */
  readonly kind: "pdf" | "image";
  /**
   * The file's format found from its bytes: "pdf", or the image format of `probeImage`
   * ("png", "jpeg", "gif", "webp", "tiff", "bmp", "heif").
   */
  readonly format: string;
  /** Number of pages: PDF pages, TIFF pages, 1 for any other image (GIF / WebP: first frame only). */
  readonly pageCount: number;
  /**
   * Page `index` (0-based, below `pageCount`) as RGB.
   * @throws PdfError / ImageDecodeError naming the file (a bad index: RangeError for a PDF,
   *   ImageDecodeError of kind "bad-page" for an image)
   */
  page(index: number): Promise<RgbImage>;
  /** Frees what the source holds (PDFium memory). Idempotent. */
  close(): void;
}

/** Options of {@link openInput}. */
export interface OpenInputOptions {
  /** Password of an encrypted PDF (user or owner password); ignored for images. */
  password?: string;
  /**
   * Largest page image in pixels (width * height), refused before anything is allocated.
   * Default: the PDF renderer's (100 Mpx) and the image decoder's (Pillow's 178 956 970) own.
   */
  maxPixels?: number;
}

/** A file-system failure on an input file; the one-line message names the file. */
export class InputReadError extends Error {
  /** The path that could not be read. */
  readonly file: string;
  /** Node's error code (ENOENT, EISDIR, EACCES, ...), when there is one. */
  readonly code: string | undefined;
  /**
   * @param file - the input path
   * @param cause - the file-system error
   */
  constructor(file: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why =
      code === "ENOENT"
        ? "no such file or directory"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : (cause instanceof Error ? cause.message : String(cause)).split("\n")[0];
    super(`cannot read ${file}: ${why}`, { cause });
    this.name = "InputReadError";
    this.file = file;
    this.code = code;
  }
}

/** True when bytes start (within the first 1 KiB) with the `%PDF-` signature. */
export function isPdfBytes(b: Uint8Array): boolean {
  return Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, 1024)).includes("%PDF-");
}

async function looksLikePdf(path: string | Uint8Array): Promise<boolean> {
  if (typeof path !== "string") return isPdfBytes(path);
  if (extname(path).toLowerCase() === ".pdf") return true;
  try {
    const fh = await open(path, "r");
    try {
      const head = Buffer.alloc(1024);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      return isPdfBytes(head.subarray(0, bytesRead));
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new InputReadError(path, e);
  }
}

/**
 * Opens an input: PDFs by extension or by the `%PDF-` signature in the first 1024 bytes,
 * everything else as an image (format found from the bytes, not the name). Reads the page count;
 * renders / decodes nothing until {@link PageSource.page} is called.
 *
 * @param input - the input file, or its bytes (then named `<bytes>` in errors)
 * @param dpi - PDF render resolution in dots per inch (images are used at their own size)
 * @param opts - PDF password, pixel limit
 * @returns the page source; call `close()` when done
 * @throws InputReadError (file missing, a directory, unreadable), PdfError (not a PDF, corrupt,
 *   password required, no pages, ...), ImageDecodeError (empty, unsupported format, corrupt header,
 *   too large); each message is one line naming the file
 */
export async function openInput(
  input: string | Uint8Array,
  dpi: number,
  opts: OpenInputOptions = {},
): Promise<PageSource> {
  const path = typeof input === "string" ? input : "<bytes>";
  if (await looksLikePdf(input)) {
    const doc = await openPdf(input, opts.password === undefined ? {} : { password: opts.password });
    const render = opts.maxPixels === undefined ? { dpi } : { dpi, maxPixels: opts.maxPixels };
    return {
      path,
      kind: "pdf",
      format: "pdf",
      pageCount: doc.pageCount,
      page: (i) => doc.renderPage(i, render),
      close: () => doc.close(),
    };
  }
  const limits = opts.maxPixels === undefined ? {} : { maxPixels: opts.maxPixels };
  const probe = await probeImage(input, limits);
  const pageCount = probe.format === "tiff" ? probe.frames : 1;
  return {
    path,
    kind: "image",
    format: probe.format,
    pageCount,
    page: async (i) => {
      if (!Number.isInteger(i) || i < 0 || i >= pageCount) {
        throw new ImageDecodeError(path, "bad-page", `page index ${i} out of range [0, ${pageCount})`);
      }
      return decodeImage(input, { ...limits, page: i });
    },
    close() {},
  };
}

/**
 * SHA-256 of a file's bytes, read as a stream (constant memory, any size).
 *
 * @param path - the input file
 * @returns the digest as 64 lower-case hex digits
 * @throws InputReadError naming the file when it cannot be read (missing, a directory, permissions)
 */
export async function inputHash(path: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    throw new InputReadError(path, e);
  }
  return hash.digest("hex");
}
