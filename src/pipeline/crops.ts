/**
 * Image crops of a page (spec 9.2): every box of every `image` span is cut out of the page image
 * and written as a PNG to `<outDir>/images/<name>/<page>_<i>.png`, i counting the page's image
 * boxes from 0 (the numbering of `imageBoxes`, so the markdown links and the files agree). The
 * per-document subfolder keeps documents that share an output directory apart.
 */
import { mkdir, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import type { RgbImage } from "../preprocess/image.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import type { PageImage } from "./document.ts";
import { type Block, type Box, toPixels } from "./grounding.ts";
import { imageBoxes } from "./markdown.ts";

/**
 * The pixel rectangle of a box, as the official scripts crop it: `int(v / 999 * W)` (spec 9.1),
 * clamped inside the page.
 *
 * @param box `[x1, y1, x2, y2]` on the model's 0..999 scale.
 * @param width page width in pixels.
 * @param height page height in pixels.
 * @returns `[x1, y1, x2, y2]` in pixels (x2, y2 exclusive), or null when the rectangle is empty.
 */
export function cropRect(box: Box, width: number, height: number): Box | null {
  const [a, b, c, d] = toPixels(box, width, height);
  const x1 = Math.max(0, Math.min(width, Math.min(a, c)));
  const x2 = Math.max(0, Math.min(width, Math.max(a, c)));
  const y1 = Math.max(0, Math.min(height, Math.min(b, d)));
  const y2 = Math.max(0, Math.min(height, Math.max(b, d)));
  return x2 > x1 && y2 > y1 ? [x1, y1, x2, y2] : null;
}

/**
 * Path of a crop relative to the output directory: `images/<name>/<page>_<boxIndex>.png`.
 *
 * @param name the document's output name (a single path segment).
 * @param page 1-based page number.
 * @param boxIndex number of the box among the page's `image` boxes (0-based).
 */
export function cropPath(name: string, page: number, boxIndex: number): string {
  return `images/${name}/${page}_${boxIndex}.png`;
}

/**
 * Encodes a rectangle of an image as PNG.
 *
 * @param image the page.
 * @param rect `[x1, y1, x2, y2]` in pixels, non-empty and inside the image (from {@link cropRect}).
 * @returns the PNG bytes.
 * @throws Error from sharp when the rectangle is outside the image.
 */
export async function encodeCropPng(image: RgbImage, rect: Box): Promise<Buffer> {
  const [x1, y1, x2, y2] = rect;
  const data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return sharp(data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 })
    .png()
    .toBuffer();
}

/**
 * Crops the `image` boxes of one page and writes them atomically under `outDir` (see the module
 * comment). Boxes that are empty in pixels are skipped (their number stays unused). Crops of the
 * same page left by an earlier run that this one does not write again (`<page>_<i>.png` with a
 * number not written now) are deleted, so the folder matches the markdown.
 *
 * @param outDir the output directory (created when needed).
 * @param name the document's output name (a single path segment).
 * @param page 1-based page number.
 * @param image the page image the model saw (the box scale refers to it).
 * @param blocks the page's blocks (`parseGrounding(raw).blocks`).
 * @returns the crops written, in box order.
 * @throws file-system errors (ENOSPC, EACCES, ...) and sharp encoding errors.
 */
export async function writePageCrops(
  outDir: string,
  name: string,
  page: number,
  image: RgbImage,
  blocks: Block[],
): Promise<PageImage[]> {
  const written: PageImage[] = [];
  const dir = join(outDir, "images", name);
  for (const ib of imageBoxes(blocks)) {
    const rect = cropRect(ib.box, image.width, image.height);
    if (!rect) continue;
    const path = cropPath(name, page, ib.boxIndex);
    if (written.length === 0) await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(outDir, path), await encodeCropPng(image, rect));
    written.push({ boxIndex: ib.boxIndex, path, box_px: rect });
  }
  await removeStaleCrops(dir, page, new Set(written.map((w) => `${page}_${w.boxIndex}.png`)));
  return written;
}

async function removeStaleCrops(dir: string, page: number, keep: Set<string>): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no folder: nothing stale
  }
  const re = new RegExp(`^${page}_\\d+\\.png$`);
  for (const n of names) {
    if (re.test(n) && !keep.has(n)) await unlink(join(dir, n)).catch(() => {});
  }
}
