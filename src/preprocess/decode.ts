/**
 * Image files to 8-bit RGB as the official `infer()` sees them: `Image.open` +
 * `ImageOps.exif_transpose` + `.convert("RGB")` (spec §3.1, implementer note 4), decoded with
 * sharp (libvips) plus a small BMP decoder.
 *
 * What matches Pillow, and how:
 * - EXIF orientation (all 8 values) is applied (sharp `autoOrient`).
 * - Alpha is dropped, not composited: RGBA (r, g, b, a) -> (r, g, b), the colour under a
 *   transparent pixel is kept. Grey -> (v, v, v); palette -> its RGB entries; 1-bit -> 0 / 255.
 * - Embedded ICC profiles are ignored (Pillow ignores them; sharp `ignoreIcc`).
 * - CMYK (JPEG, TIFF) -> RGB with Pillow's `cmyk2rgb` formula: nk = 255 - K,
 *   R = clip(nk - MULDIV255(C, nk)) etc., on the CMYK values libjpeg delivers (Adobe-inverted
 *   files are un-inverted by both Pillow and libvips), not an ICC conversion.
 * - 16-bit RGB / RGBA / grey+alpha -> the high byte of each sample (Pillow's `;16B` unpackers;
 *   libvips does the same).
 * - 16-bit grey without alpha: Pillow opens it as mode "I" and `convert("RGB")` CLIPS each value
 *   to 0..255 (`i2rgb`), which turns most real 16-bit scans white. The default here is
 *   `grey16: "scale"` (high byte, like every other 16-bit mode); `grey16: "clip"` reproduces
 *   Pillow exactly.
 * - JPEG: libvips and Pillow 9.4 both decode with libjpeg-turbo defaults (ISLOW IDCT, fancy
 *   upsampling); `fixtures/images/exif.jpg` decodes byte-identical to `exif_decoded.png`.
 *
 * Known differences: GIF pixels of the transparent colour index come out as whatever libvips
 * gives under alpha 0 (Pillow gives the palette colour of that index); RLE BMPs are rejected;
 * a truncated GIF decodes (libvips fills the missing part) where Pillow may raise.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { BmpError, bmpDimensions, decodeBmp, isBmp } from "./bmp.ts";
import type { RgbImage } from "./image.ts";

/**
 * Pillow's decompression-bomb error threshold: 2 · `Image.MAX_IMAGE_PIXELS` (2 · 89 478 485).
 * Pillow raises `DecompressionBombError` above it (and only warns between 1x and 2x).
 */
export const DEFAULT_MAX_PIXELS = 178_956_970;

/** What is wrong with an input, as carried by {@link ImageDecodeError}. */
export type ImageDecodeErrorKind =
  | "unreadable" // the file could not be read (missing, a directory, permissions)
  | "empty" // zero bytes
  | "unsupported" // unknown or unsupported format
  | "corrupt" // truncated or damaged data
  | "too-large" // width x height above maxPixels
  | "bad-page"; // page index out of range

/** One-line decode failure naming the input and what is wrong. */
export class ImageDecodeError extends Error {
  /** The file path, or the `name` option / "<buffer>" for in-memory input. */
  readonly file: string;
  /** Category of the failure. */
  readonly kind: ImageDecodeErrorKind;
  /**
   * @param file - path or name of the input
   * @param kind - failure category
   * @param detail - one-line description of what is wrong
   * @param options - optional `cause`
   */
  constructor(file: string, kind: ImageDecodeErrorKind, detail: string, options?: { cause?: unknown }) {
    super(`cannot decode image ${file}: ${detail.replace(/\s*\n\s*/g, " ").trim()}`, options);
    this.name = "ImageDecodeError";
    this.file = file;
    this.kind = kind;
  }
}

/** Options of {@link decodeImage}. */
export interface DecodeImageOptions {
  /** Frame / page index (0-based) of a multi-frame GIF / WebP or multi-page TIFF; default 0. */
  page?: number;
  /**
   * Largest accepted width · height in pixels, checked from the header before decoding
   * (default {@link DEFAULT_MAX_PIXELS}). `Infinity` disables the check.
   */
  maxPixels?: number;
  /** 16-bit grey without alpha: "scale" (high byte, default) or "clip" (Pillow's i2rgb). */
  grey16?: "scale" | "clip";
  /** Name used in error messages for Buffer input (default "<buffer>"). */
  name?: string;
}

/** Header facts of an image, see {@link probeImage}. */
export interface ImageProbe {
  /** Container format as detected from the magic bytes ("png", "jpeg", "gif", "webp", "tiff", "bmp", "heif"). */
  format: string;
  /** Width in pixels of page 0 after EXIF orientation. */
  width: number;
  /** Height in pixels of page 0 after EXIF orientation. */
  height: number;
  /** Number of frames / pages (1 for a single image). */
  frames: number;
}

type Format = "png" | "jpeg" | "gif" | "webp" | "tiff" | "bmp" | "heif";

function sniffFormat(b: Uint8Array): Format | null {
  const ascii = (o: number, s: string) => {
    if (b.length < o + s.length) return false;
    for (let i = 0; i < s.length; i++) if (b[o + i] !== s.charCodeAt(i)) return false;
    return true;
  };
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, "PNG\r\n\x1a\n")) return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (ascii(0, "GIF87a") || ascii(0, "GIF89a")) return "gif";
  if (ascii(0, "RIFF") && ascii(8, "WEBP")) return "webp";
  if (ascii(0, "II*\0") || ascii(0, "MM\0*") || ascii(0, "II+\0") || ascii(0, "MM\0+")) return "tiff";
  if (isBmp(b) && b.length >= 26) return "bmp";
  if (ascii(4, "ftyp")) return "heif";
  return null;
}

/** Declared pixel size from the header for formats where that is cheap; null when unknown. */
function sniffDimensions(b: Uint8Array, fmt: Format): [number, number] | null {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (fmt === "png" && b.length >= 24) return [dv.getUint32(16), dv.getUint32(20)];
  if (fmt === "gif" && b.length >= 10) return gifExtent(b, dv);
  if (fmt === "bmp") return bmpDimensions(b);
  if (fmt === "jpeg") {
    let o = 2;
    while (o + 9 < b.length) {
      if (b[o] !== 0xff) return null;
      const m = b[o + 1];
      if (m === 0xff) {
        o++;
        continue;
      }
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        return [dv.getUint16(o + 7), dv.getUint16(o + 5)];
      }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        o += 2;
        continue;
      }
      o += 2 + dv.getUint16(o + 2);
    }
  }
  return null;
}

/**
 * GIF canvas as Pillow sizes it: the logical screen, grown to cover the first frame's
 * (left + width) x (top + height) when that frame sticks out (decompression bombs declare a
 * huge frame behind a small screen).
 */
function gifExtent(b: Uint8Array, dv: DataView): [number, number] {
  let w = dv.getUint16(6, true);
  let h = dv.getUint16(8, true);
  let o = 13;
  if (b[10] & 0x80) o += 3 * (1 << ((b[10] & 7) + 1));
  while (o < b.length) {
    const tag = b[o];
    if (tag === 0x21) {
      o += 2;
      while (o < b.length && b[o] !== 0) o += b[o] + 1;
      o++;
    } else if (tag === 0x2c) {
      if (o + 9 > b.length) break;
      w = Math.max(w, dv.getUint16(o + 1, true) + dv.getUint16(o + 5, true));
      h = Math.max(h, dv.getUint16(o + 3, true) + dv.getUint16(o + 7, true));
      break;
    } else break;
  }
  return [w, h];
}

async function readInput(input: string | Uint8Array, name: string): Promise<Uint8Array> {
  if (typeof input !== "string") return input;
  try {
    return await readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "file not found"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : `cannot read file (${(e as Error).message})`;
    throw new ImageDecodeError(name, "unreadable", why, { cause: e });
  }
}

function classifySharpError(name: string, e: unknown): ImageDecodeError {
  const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0].trim();
  if (/unsupported image format/i.test(msg))
    return new ImageDecodeError(name, "unsupported", "unsupported or unknown image format", { cause: e });
  if (/pixel limit/i.test(msg))
    return new ImageDecodeError(name, "too-large", `image too large (${msg})`, { cause: e });
  return new ImageDecodeError(name, "corrupt", `truncated or corrupt image data (${msg})`, { cause: e });
}

interface Prepared {
  buf: Uint8Array;
  fmt: Format;
  name: string;
  maxPixels: number;
}

async function prepare(input: string | Uint8Array, opts: DecodeImageOptions): Promise<Prepared> {
  const name = typeof input === "string" ? input : (opts.name ?? "<buffer>");
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const buf = await readInput(input, name);
  if (buf.length === 0) throw new ImageDecodeError(name, "empty", "empty file (0 bytes)");
  const fmt = sniffFormat(buf);
  if (!fmt) throw new ImageDecodeError(name, "unsupported", "unsupported or unknown image format");
  const dims = sniffDimensions(buf, fmt);
  if (dims) checkPixels(name, dims[0], dims[1], maxPixels);
  return { buf, fmt, name, maxPixels };
}

function checkPixels(name: string, w: number, h: number, maxPixels: number): void {
  if (w <= 0 || h <= 0) throw new ImageDecodeError(name, "corrupt", `header declares an empty ${w}x${h} image`);
  if (w * h > maxPixels) {
    throw new ImageDecodeError(name, "too-large", `image too large: ${w}x${h} = ${w * h} pixels (limit ${maxPixels})`);
  }
}

async function sharpMeta(p: Prepared, page: number): Promise<sharp.Metadata> {
  try {
    return await sharp(p.buf, { page, limitInputPixels: false }).metadata();
  } catch (e) {
    throw classifySharpError(p.name, e);
  }
}

/**
 * Number of frames (GIF, WebP) or pages (TIFF) in an image; 1 for single images.
 *
 * @param input - file path or file bytes
 * @param opts - `name` for messages, `maxPixels`
 * @returns the frame count (>= 1)
 * @throws ImageDecodeError (unreadable, empty, unsupported, corrupt, too-large)
 */
export async function imageFrameCount(input: string | Uint8Array, opts: DecodeImageOptions = {}): Promise<number> {
  return (await probeImage(input, opts)).frames;
}

/**
 * Reads the header of an image: format, size after EXIF orientation, frame count. Decodes no pixels.
 *
 * @param input - file path or file bytes
 * @param opts - `name` for messages, `maxPixels`
 * @returns the probe
 * @throws ImageDecodeError (unreadable, empty, unsupported, corrupt, too-large)
 */
export async function probeImage(input: string | Uint8Array, opts: DecodeImageOptions = {}): Promise<ImageProbe> {
  const p = await prepare(input, opts);
  if (p.fmt === "bmp") {
    const d = bmpDimensions(p.buf);
    if (!d) throw new ImageDecodeError(p.name, "corrupt", "BMP header truncated");
    return { format: "bmp", width: d[0], height: d[1], frames: 1 };
  }
  const m = await sharpMeta(p, 0);
  const w = m.width ?? 0;
  const h = m.pageHeight && (m.pages ?? 1) > 1 && m.format !== "tiff" ? m.pageHeight : (m.height ?? 0);
  checkPixels(p.name, w, h, p.maxPixels);
  const swap = (m.orientation ?? 1) >= 5;
  return { format: p.fmt, width: swap ? h : w, height: swap ? w : h, frames: m.pages ?? 1 };
}

/**
 * Decodes an image file to 8-bit RGB as `Image.open` + `ImageOps.exif_transpose` +
 * `.convert("RGB")` would (see the module notes for the exact conversions).
 *
 * The pixel count is checked against `maxPixels` from the header before any pixel buffer is
 * allocated (the 65535x66601 GIF bomb is rejected from its 10-byte header).
 *
 * @param input - file path or file bytes
 * @param opts - page, maxPixels, grey16, name
 * @returns the RGB image (width x height pixels after EXIF orientation)
 * @throws ImageDecodeError with kind "unreadable", "empty", "unsupported" (unknown format, e.g.
 *   a text file), "corrupt" (truncated or damaged data), "too-large", "bad-page"
 */
export async function decodeImage(input: string | Uint8Array, opts: DecodeImageOptions = {}): Promise<RgbImage> {
  const page = opts.page ?? 0;
  const p = await prepare(input, opts);
  if (!Number.isInteger(page) || page < 0) {
    throw new ImageDecodeError(p.name, "bad-page", `page must be a non-negative integer, got ${page}`);
  }
  if (p.fmt === "bmp") {
    if (page !== 0) throw new ImageDecodeError(p.name, "bad-page", `page ${page} requested, the image has 1 page`);
    try {
      return decodeBmp(p.buf, p.maxPixels);
    } catch (e) {
      if (e instanceof BmpError) throw new ImageDecodeError(p.name, e.kind, e.message, { cause: e });
      if (e instanceof RangeError) throw new ImageDecodeError(p.name, "too-large", `image ${e.message}`, { cause: e });
      throw e;
    }
  }
  const meta0 = await sharpMeta(p, 0);
  const frames = meta0.pages ?? 1;
  if (page >= frames) {
    throw new ImageDecodeError(p.name, "bad-page", `page ${page} requested, the image has ${frames} page(s)`);
  }
  const meta = page === 0 ? meta0 : await sharpMeta(p, page);
  // For a multi-frame GIF/WebP `height` is the whole strip when all pages are loaded; one page is pageHeight.
  const pageH = meta.pageHeight && frames > 1 && meta.format !== "tiff" ? meta.pageHeight : (meta.height ?? 0);
  checkPixels(p.name, meta.width ?? 0, pageH, p.maxPixels);

  const base = () =>
    sharp(p.buf, {
      page,
      ignoreIcc: true,
      // Like Pillow, tolerate decoder warnings (e.g. extraneous bytes in a JPEG); truncated
      // PNG / JPEG / WebP / TIFF data is still an error at this level.
      failOn: "error",
      limitInputPixels: Number.isFinite(p.maxPixels) ? Math.max(1, Math.floor(p.maxPixels)) : false,
    }).autoOrient();
  try {
    if (meta.space === "cmyk") {
      const { data, info } = await base().toColourspace("cmyk").raw().toBuffer({ resolveWithObject: true });
      return cmykToRgb(data, info.width, info.height, info.channels);
    }
    if (meta.space === "grey16" && !meta.hasAlpha && opts.grey16 === "clip") {
      const { data, info } = await base()
        .toColourspace("grey16")
        .raw({ depth: "ushort" })
        .toBuffer({ resolveWithObject: true });
      const u16 = new Uint16Array(data.buffer, data.byteOffset, data.byteLength >> 1);
      return grey16ClipToRgb(u16, info.width, info.height, info.channels);
    }
    const { data, info } = await base().toColourspace("srgb").removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageDecodeError(p.name, "unsupported", `unexpected ${info.channels}-channel decode result`);
    }
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw classifySharpError(p.name, e);
  }
}

/** Pillow `cmyk2rgb`: nk = 255 - K; out = CLIP8(nk - MULDIV255(ink, nk)); extra channels ignored. */
function cmykToRgb(src: Uint8Array, width: number, height: number, channels: number): RgbImage {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const md = (a: number, b: number) => {
    const t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (let i = 0, s = 0, o = 0; i < n; i++, s += channels, o += 3) {
    const nk = 255 - src[s + 3];
    out[o] = Math.max(0, nk - md(src[s], nk));
    out[o + 1] = Math.max(0, nk - md(src[s + 1], nk));
    out[o + 2] = Math.max(0, nk - md(src[s + 2], nk));
  }
  return { width, height, data: out };
}

/** Pillow `i2rgb` for 16-bit grey opened as mode "I": clip each value to 0..255. */
function grey16ClipToRgb(src: Uint16Array, width: number, height: number, channels: number): RgbImage {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0, s = 0, o = 0; i < n; i++, s += channels, o += 3) {
    const v = Math.min(src[s], 255);
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
  }
  return { width, height, data: out };
}
