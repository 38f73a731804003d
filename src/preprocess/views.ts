/**
 * The views (global view + tiles) that HF `infer()` feeds to the vision encoder, pixel-exact
 * (spec §3.2-§3.4, §7.1).
 *
 * @module
 */

import { createRgbImage, cropImage, pasteImage, type RgbImage } from "./image.ts";
import { pySetOrder } from "./pyset.ts";
import { resizeBicubic } from "./resample.ts";

/** Model generation whose `infer()` preprocessing is replayed. */
export type ModelVersion = "v1" | "v2";

/** Grey fill of the padded global view: `tuple(int(x * 255) for x in mean)` with mean 0.5 (spec §3.2). */
export const PAD_COLOR: readonly [number, number, number] = [127, 127, 127];

/** Tile size in pixels used by HF `dynamic_preprocess` (v2: 768, v1: 640), whatever `image_size` is. */
export const TILE_SIZE: Readonly<Record<ModelVersion, number>> = { v2: 768, v1: 640 };

/** Default maximum number of tiles of HF `dynamic_preprocess` (v2: 6, v1: 9; spec §3.2, §7.1). */
export const DEFAULT_MAX_TILES: Readonly<Record<ModelVersion, number>> = { v2: 6, v1: 9 };

/** Default minimum number of tiles of HF `dynamic_preprocess` (2 for both). */
export const DEFAULT_MIN_TILES = 2;

/**
 * Python's `round(x)` for a float: nearest integer, ties to even (spec §3.4, implementer note 5).
 *
 * @param x - a finite number
 * @returns the rounded integer
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for doubles
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The size `ImageOps.contain(img, (size, size))` resizes to (Pillow 9.4, spec §3.4 step 1):
 * landscape -> (size, round(H / W * size)), portrait -> (round(W / H * size), size), square ->
 * (size, size), with Python rounding. Pillow would fail on a side that rounds to 0 (extreme
 * aspect ratios such as 5000x1); here that side is clamped to 1 pixel instead.
 *
 * @param width - image width in pixels
 * @param height - image height in pixels
 * @param size - side of the square target in pixels
 * @returns [width, height] of the resized image in pixels
 */
export function containSize(width: number, height: number, size: number): [number, number] {
  const imRatio = width / height;
  if (imRatio === 1) return [size, size];
  if (imRatio > 1) return [size, Math.max(1, roundHalfEven((height / width) * size))];
  return [Math.max(1, roundHalfEven((width / height) * size)), size];
}

/**
 * `ImageOps.pad(img, (size, size), color=(127,127,127))` with BICUBIC, as in Pillow 9.4
 * (spec §3.4): resize to fit keeping the aspect ratio (small images are upscaled), then paste
 * centred on a grey square canvas at offset round((size - side) * 0.5) with Python's
 * round-half-to-even (e.g. a 1021-pixel side in 1024 goes at offset 2, a 1019-pixel side at 2).
 *
 * @param img - source image
 * @param size - side of the output square in pixels
 * @param color - canvas colour (default 127 grey)
 * @returns a new `size x size` image
 * @throws RangeError if size is not a positive integer
 */
export function padToSquare(
  img: RgbImage,
  size: number,
  color: readonly [number, number, number] = PAD_COLOR,
): RgbImage {
  const [w, h] = containSize(img.width, img.height, size);
  const resized = resizeBicubic(img, w, h);
  if (w === size && h === size) return resized;
  const out = createRgbImage(size, size, color);
  if (w !== size) pasteImage(out, resized, roundHalfEven((size - w) * 0.5), 0);
  else pasteImage(out, resized, 0, roundHalfEven((size - h) * 0.5));
  return out;
}

/** Options of {@link chooseTileGrid}. */
export interface TileGridOptions {
  /** Minimum number of tiles (dynamic_preprocess `min_num`, default 2). */
  minNum?: number;
  /** Maximum number of tiles (dynamic_preprocess `max_num`; v2 6, v1 9 in HF). */
  maxNum: number;
  /** Tile side in pixels (v2 768, v1 640); used by the tie rule. */
  tileSize: number;
}

/**
 * The candidate grids of `dynamic_preprocess` in the order it walks them: every (cols, rows)
 * with minNum <= cols·rows <= maxNum, in CPython set order, stably sorted by cols·rows
 * (spec §3.3 step 1).
 *
 * @param minNum - minimum number of tiles (>= 1)
 * @param maxNum - maximum number of tiles
 * @returns [cols, rows] pairs; empty when maxNum < minNum
 */
export function tileGridCandidates(minNum: number, maxNum: number): [number, number][] {
  const gen: [number, number][] = [];
  for (let n = minNum; n <= maxNum; n++)
    for (let i = 1; i <= n; i++) for (let j = 1; j <= n; j++) if (i * j <= maxNum && i * j >= minNum) gen.push([i, j]);
  return pySetOrder(gen).sort((a, b) => a[0] * a[1] - b[0] * b[1]);
}

/**
 * The tile grid `dynamic_preprocess` picks for a width x height image (spec §3.3): the candidate
 * whose cols/rows is closest to width/height; on an exact tie the later candidate wins only when
 * width·height > 0.5 · tileSize² · cols·rows. Examples: v2 1250x1000 -> [2, 2];
 * v1 (640, max 9) 1920x1080 -> [4, 2]; v2 769x500 -> [3, 2].
 *
 * This only chooses; whether an image is tiled at all (a side > tileSize) is decided by
 * {@link buildViews}.
 *
 * @param width - image width in pixels
 * @param height - image height in pixels
 * @param opts - candidate range and tile size
 * @returns [cols, rows]; [1, 1] when there is no candidate (maxNum < minNum)
 */
export function chooseTileGrid(width: number, height: number, opts: TileGridOptions): [number, number] {
  const minNum = opts.minNum ?? DEFAULT_MIN_TILES;
  const aspect = width / height;
  const area = width * height;
  const s = opts.tileSize;
  let bestDiff = Number.POSITIVE_INFINITY;
  let best: [number, number] = [1, 1];
  for (const [i, j] of tileGridCandidates(minNum, opts.maxNum)) {
    const diff = Math.abs(aspect - i / j);
    if (diff < bestDiff) {
      bestDiff = diff;
      best = [i, j];
    } else if (diff === bestDiff) {
      if (area > 0.5 * s * s * i * j) best = [i, j];
    }
  }
  return best;
}

/**
 * Resizes the whole image (aspect ratio not kept, BICUBIC) to (cols·tileSize) x (rows·tileSize)
 * and cuts it into tiles in row-major order: tile k is column k % cols, row floor(k / cols)
 * (spec §3.3 steps 3-4).
 *
 * @param img - source image
 * @param cols - number of tile columns
 * @param rows - number of tile rows
 * @param tileSize - tile side in pixels
 * @returns cols·rows images of tileSize x tileSize
 */
export function makeTiles(img: RgbImage, cols: number, rows: number, tileSize: number): RgbImage[] {
  const resized = resizeBicubic(img, cols * tileSize, rows * tileSize);
  const tiles: RgbImage[] = [];
  for (let k = 0; k < cols * rows; k++) {
    tiles.push(cropImage(resized, (k % cols) * tileSize, Math.floor(k / cols) * tileSize, tileSize, tileSize));
  }
  return tiles;
}

/** Options of {@link buildViews} (the `infer()` arguments plus the CLI's tile cap). */
export interface BuildViewsOptions {
  /** `base_size`: side of the global view in crop mode, in pixels (1024 in the official scripts). */
  baseSize: number;
  /** `image_size`: side of the single view without crop mode, in pixels (v2 768, v1 640 in crop mode). */
  imageSize: number;
  /** `crop_mode`: global view + tiles (true) or a single view (false). */
  cropMode: boolean;
  /**
   * Overrides dynamic_preprocess `max_num` (defaults: v2 6, v1 9). 0 = crop mode off (same as
   * `cropMode: false`); 1 (or any value below the minimum) = crop mode without tiles.
   */
  maxTiles?: number;
  /** Overrides dynamic_preprocess `min_num` (default 2). */
  minTiles?: number;
  /** Model generation: v2 tiles of 768 px, v1 tiles of 640 px. */
  version: ModelVersion;
}

/** Result of {@link buildViews}. */
export interface Views {
  /** The global view (crop mode: baseSize²; otherwise imageSize²). */
  global: RgbImage;
  /** The tiles in row-major order, each tileSize² (768 v2 / 640 v1); empty when not tiled. */
  tiles: RgbImage[];
  /** [cols, rows] of the tiles, or null when there are none (`images_spatial_crop` is then [1, 1]). */
  grid: [number, number] | null;
}

/**
 * Builds the views HF `infer()` makes from an RGB image (spec §3.2 for v2, §7.1 for v1).
 *
 * Crop mode: tiles only when width > tile or height > tile (tile 768 v2 / 640 v1); then the grid
 * of {@link chooseTileGrid} (min 2, max 6 v2 / 9 v1 unless overridden) and {@link makeTiles}.
 * The global view is always `padToSquare(img, baseSize)`.
 *
 * Without crop mode: if imageSize <= 768 (v2) / <= 640 (v1) the image is first squashed to
 * imageSize x imageSize (BICUBIC, aspect not kept), then `padToSquare(img, imageSize)`.
 *
 * @param img - the decoded RGB image (EXIF already applied)
 * @param opts - infer() settings
 * @returns the global view, the tiles and the grid
 * @throws RangeError if baseSize / imageSize are not positive integers
 */
export function buildViews(img: RgbImage, opts: BuildViewsOptions): Views {
  const tileSize = TILE_SIZE[opts.version];
  const cropMode = opts.cropMode && opts.maxTiles !== 0;
  if (!cropMode) {
    let src = img;
    if (opts.imageSize <= tileSize) src = resizeBicubic(img, opts.imageSize, opts.imageSize);
    return { global: padToSquare(src, opts.imageSize), tiles: [], grid: null };
  }
  let tiles: RgbImage[] = [];
  let grid: [number, number] | null = null;
  if (img.width > tileSize || img.height > tileSize) {
    const minNum = opts.minTiles ?? DEFAULT_MIN_TILES;
    const maxNum = opts.maxTiles ?? DEFAULT_MAX_TILES[opts.version];
    if (maxNum >= minNum) {
      const [cols, rows] = chooseTileGrid(img.width, img.height, { minNum, maxNum, tileSize });
      // infer() adds tiles only when width_crop_num > 1 or height_crop_num > 1.
      if (cols > 1 || rows > 1) {
        grid = [cols, rows];
        tiles = makeTiles(img, cols, rows, tileSize);
      }
    }
  }
  return { global: padToSquare(img, opts.baseSize), tiles, grid };
}
