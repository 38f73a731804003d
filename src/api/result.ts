/** Conversions at the edge of the library API: inputs to RGB pixels, engine results to {@link ExtractResult}. */

import { blockRecords } from "../pipeline/document.ts";
import type { PageResult } from "../pipeline/engine.ts";
import { isPdfBytes } from "../pipeline/inputs.ts";
import { cleanMarkdown } from "../pipeline/markdown.ts";
import { decodeImage } from "../preprocess/decode.ts";
import type { RgbImage } from "../preprocess/image.ts";
import type { ExtractResult, ImageInput, ResultBlock } from "./types.ts";

/**
 * Decodes an {@link ImageInput} to RGB (EXIF orientation applied; first page/frame).
 * @throws ImageDecodeError naming the file; TypeError for PDF bytes or malformed pixels
 */
export async function toRgbImage(input: ImageInput): Promise<RgbImage> {
  if (typeof input === "string") return decodeImage(input);
  if (input instanceof Uint8Array) {
    if (isPdfBytes(input)) throw new TypeError("extract() takes an image; use extractDocument() for a PDF");
    return decodeImage(input);
  }
  const { width, height, data } = input;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new TypeError(`image: width and height must be positive integers (got ${width}x${height})`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new TypeError(`image: data must be a Uint8Array of width*height*3 = ${width * height * 3} RGB bytes`);
  }
  return input;
}

/** The layout blocks of a page's raw output, boxes on the 0..999 scale and in pixels (spec 9.1). */
export function resultBlocks(raw: string, width: number, height: number): ResultBlock[] {
  return blockRecords(raw, width, height).map(({ boxes_px, ...b }) => ({ ...b, boxesPx: boxes_px }));
}

/** The library's view of an engine result. */
export function extractResult(r: PageResult): ExtractResult {
  const t = r.timings;
  return {
    markdown: cleanMarkdown(r.raw),
    raw: r.raw,
    blocks: resultBlocks(r.raw, r.image.width, r.image.height),
    tokens: r.tokens,
    finished: r.finished,
    usage: { promptTokens: r.promptTokens, imageTokens: r.imageTokens, completionTokens: r.tokens.length },
    timings: { ...t, total: t.preprocess + t.encode + t.prefill + t.decode },
    image: { ...r.image },
  };
}
