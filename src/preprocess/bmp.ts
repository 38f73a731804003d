/**
 * A small BMP decoder (stock sharp has none; Pillow opens BMP). Covers uncompressed BMPs:
 * 1/4/8-bit palette, 16-bit (5-5-5 by default, or BI_BITFIELDS masks), 24-bit BGR, 32-bit BGRX
 * or BI_BITFIELDS, bottom-up or top-down, OS/2 core (12-byte) and Windows (40..124-byte) headers.
 * RLE4/RLE8, JPEG/PNG-in-BMP are rejected. Channel values narrower than 8 bits are widened
 * with `v * 255 / max` (integer division), as Pillow's `BGR;15` / `BGR;16` unpackers do; the
 * alpha channel is dropped, as `.convert("RGB")` does.
 *
 * Why not a library (checked for issue 11; all four are MIT): `bmp-ts` 1.0.9 (jimp-dev, the
 * best kept) decodes wrong pixels without an error for a 4-bit BMP of odd width (only the first
 * row), a file whose pixel data does not follow the palette directly (it ignores the data
 * offset), a V4/V5-header 32-bit BI_RGB file with zero masks (all black) and any RLE file;
 * `bmp-js` 0.1.0 is its unmaintained predecessor; `fast-bmp` 4.0.1 has no 4/16-bit, no
 * top-down rows and no palette for 1-bit; `decode-bmp` 0.2.1 (made for ICO) has no top-down rows,
 * no 16-bit and ignores the data offset. test/preprocess/decode.test.ts covers those cases here.
 *
 * @module
 */

import type { RgbImage } from "./image.ts";

/** Thrown by {@link decodeBmp}; `kind` says what is wrong. */
export class BmpError extends Error {
  /** "unsupported" (a BMP variant not handled) or "corrupt" (inconsistent or truncated data). */
  readonly kind: "unsupported" | "corrupt";
  /**
   * @param kind - "unsupported" or "corrupt"
   * @param message - one-line description
   */
  constructor(kind: "unsupported" | "corrupt", message: string) {
    super(message);
    this.name = "BmpError";
    this.kind = kind;
  }
}

/** True when the bytes start with the BMP signature "BM". */
export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d;
}

/**
 * Reads the pixel size a BMP header declares, without decoding.
 *
 * @param buf - the file bytes
 * @returns [width, height] in pixels (height made positive), or null if the header is too short
 */
export function bmpDimensions(buf: Uint8Array): [number, number] | null {
  if (buf.length < 26) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hs = dv.getUint32(14, true);
  if (hs === 12) return [dv.getUint16(18, true), dv.getUint16(20, true)];
  return [Math.abs(dv.getInt32(18, true)), Math.abs(dv.getInt32(22, true))];
}

function maskInfo(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

/**
 * Decodes an uncompressed BMP to RGB.
 *
 * @param buf - the file bytes
 * @param maxPixels - reject before allocating if width·height exceeds this
 * @returns the RGB image (alpha dropped)
 * @throws BmpError ("unsupported" or "corrupt"); RangeError with "too large" when over maxPixels
 */
export function decodeBmp(buf: Uint8Array, maxPixels = Number.POSITIVE_INFINITY): RgbImage {
  if (!isBmp(buf) || buf.length < 26) throw new BmpError("corrupt", "BMP header truncated");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const hs = dv.getUint32(14, true);
  let width: number;
  let height: number;
  let bpp: number;
  let compression = 0;
  let colorsUsed = 0;
  let palEntry = 4;
  if (hs === 12) {
    width = dv.getUint16(18, true);
    height = dv.getUint16(20, true);
    bpp = dv.getUint16(24, true);
    palEntry = 3;
  } else if (hs >= 40 && buf.length >= 14 + 40) {
    width = dv.getInt32(18, true);
    height = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    colorsUsed = dv.getUint32(46, true);
  } else {
    throw new BmpError("unsupported", `unsupported BMP header size ${hs}`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) throw new BmpError("corrupt", `BMP declares an empty ${width}x${height} image`);
  if (width * height > maxPixels) {
    throw new RangeError(`too large: ${width}x${height} = ${width * height} pixels (limit ${maxPixels})`);
  }
  let masks: [number, number, number] | null = null;
  if (compression === 3 || compression === 6) {
    const mo = hs >= 52 ? 14 + 40 : 14 + hs;
    if (buf.length < mo + 12) throw new BmpError("corrupt", "BMP bit masks truncated");
    masks = [dv.getUint32(mo, true), dv.getUint32(mo + 4, true), dv.getUint32(mo + 8, true)];
    if (bpp !== 16 && bpp !== 32) throw new BmpError("unsupported", `BMP bit fields with ${bpp} bits per pixel`);
  } else if (compression !== 0) {
    const names: Record<number, string> = { 1: "RLE8", 2: "RLE4", 4: "JPEG", 5: "PNG" };
    throw new BmpError("unsupported", `unsupported BMP compression ${names[compression] ?? compression}`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new BmpError("unsupported", `unsupported BMP depth ${bpp} bits`);
  if (bpp === 16 && !masks) masks = [0x7c00, 0x03e0, 0x001f];

  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const n = colorsUsed > 0 && colorsUsed <= 1 << bpp ? colorsUsed : 1 << bpp;
    let po = 14 + hs;
    if (masks && hs < 52) po += 12;
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < n; i++) {
      const o = po + i * palEntry;
      if (o + 3 > buf.length) throw new BmpError("corrupt", "BMP palette truncated");
      palette[i * 3] = buf[o + 2];
      palette[i * 3 + 1] = buf[o + 1];
      palette[i * 3 + 2] = buf[o];
    }
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * (height - 1) + Math.ceil((bpp * width) / 8) > buf.length) {
    throw new BmpError("corrupt", "BMP pixel data truncated");
  }
  const out = new Uint8Array(width * height * 3);
  const mi = masks ? masks.map(maskInfo) : null;
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      if (palette) {
        let idx: number;
        if (bpp === 8) idx = buf[row + x];
        else if (bpp === 4) idx = (buf[row + (x >> 1)] >> ((x & 1) === 0 ? 4 : 0)) & 15;
        else idx = (buf[row + (x >> 3)] >> (7 - (x & 7))) & 1;
        out[o] = palette[idx * 3];
        out[o + 1] = palette[idx * 3 + 1];
        out[o + 2] = palette[idx * 3 + 2];
      } else if (bpp === 24 || (bpp === 32 && !mi)) {
        const p = row + x * (bpp >> 3);
        out[o] = buf[p + 2];
        out[o + 1] = buf[p + 1];
        out[o + 2] = buf[p];
      } else if (mi) {
        const v = bpp === 16 ? dv.getUint16(row + x * 2, true) : dv.getUint32(row + x * 4, true);
        for (let c = 0; c < 3; c++) {
          const { shift, max } = mi[c];
          out[o + c] =
            max === 0 ? 0 : max === 255 ? (v >>> shift) & 255 : Math.floor((((v >>> shift) & max) * 255) / max);
        }
      }
    }
  }
  return { width, height, data: out };
}
