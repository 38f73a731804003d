/**
 * The in-memory image type shared by the preprocessing code (spec §3).
 *
 * @module
 */

/**
 * An 8-bit RGB image, row-major, channels interleaved (R, G, B), no padding between rows.
 *
 * `data.length === width * height * 3`; the pixel (x, y) starts at byte `(y * width + x) * 3`.
 * This is the Pillow mode "RGB" image that `infer()` works on after `.convert("RGB")` (spec §3.1).
 */
export interface RgbImage {
  /** Width in pixels (>= 1). */
  width: number;
  /** Height in pixels (>= 1). */
  height: number;
  /** RGB bytes, `width * height * 3` of them. */
  data: Uint8Array;
}

/**
 * Makes an RgbImage filled with one colour.
 *
 * @param width - width in pixels (integer >= 1)
 * @param height - height in pixels (integer >= 1)
 * @param color - fill colour [r, g, b], each 0..255 (default black)
 * @returns a new image of `width x height` pixels
 * @throws RangeError if a size is not a positive integer
 */
export function createRgbImage(width: number, height: number, color: readonly [number, number, number] = [0, 0, 0]) {
  assertSize(width, height);
  const data = new Uint8Array(width * height * 3);
  const [r, g, b] = color;
  if (r !== 0 || g !== 0 || b !== 0) {
    if (r === g && g === b) data.fill(r);
    else
      for (let i = 0; i < data.length; i += 3) {
        data[i] = r;
        data[i + 1] = g;
        data[i + 2] = b;
      }
  }
  return { width, height, data } satisfies RgbImage;
}

/**
 * Copies a rectangle out of an image (Pillow `Image.crop` for a box inside the image).
 *
 * @param img - source image
 * @param x0 - left edge in pixels (inclusive)
 * @param y0 - top edge in pixels (inclusive)
 * @param width - width of the box in pixels
 * @param height - height of the box in pixels
 * @returns a new `width x height` image
 * @throws RangeError if the box is empty or not inside the image
 */
export function cropImage(img: RgbImage, x0: number, y0: number, width: number, height: number): RgbImage {
  assertSize(width, height);
  if (!Number.isInteger(x0) || !Number.isInteger(y0) || x0 < 0 || y0 < 0) {
    throw new RangeError(`crop origin (${x0}, ${y0}) must be non-negative integers`);
  }
  if (x0 + width > img.width || y0 + height > img.height) {
    throw new RangeError(`crop box ${width}x${height}+${x0}+${y0} exceeds the ${img.width}x${img.height} image`);
  }
  const out = new Uint8Array(width * height * 3);
  const rowBytes = width * 3;
  for (let y = 0; y < height; y++) {
    const src = ((y0 + y) * img.width + x0) * 3;
    out.set(img.data.subarray(src, src + rowBytes), y * rowBytes);
  }
  return { width, height, data: out };
}

/**
 * Pastes `src` onto `dst` in place with its top-left corner at (x, y) (Pillow `Image.paste` without a mask).
 * Parts of `src` that fall outside `dst` are clipped.
 *
 * @param dst - destination image, modified in place
 * @param src - image to paste
 * @param x - destination column of src's left edge, in pixels (may be negative)
 * @param y - destination row of src's top edge, in pixels (may be negative)
 */
export function pasteImage(dst: RgbImage, src: RgbImage, x: number, y: number): void {
  const sx0 = Math.max(0, -x);
  const sy0 = Math.max(0, -y);
  const sx1 = Math.min(src.width, dst.width - x);
  const sy1 = Math.min(src.height, dst.height - y);
  if (sx1 <= sx0 || sy1 <= sy0) return;
  for (let sy = sy0; sy < sy1; sy++) {
    const s = (sy * src.width + sx0) * 3;
    const d = ((sy + y) * dst.width + sx0 + x) * 3;
    dst.data.set(src.data.subarray(s, s + (sx1 - sx0) * 3), d);
  }
}

/**
 * Checks that width and height are positive integers.
 *
 * @param width - width in pixels
 * @param height - height in pixels
 * @throws RangeError otherwise
 */
export function assertSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
}
