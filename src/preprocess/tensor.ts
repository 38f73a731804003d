/**
 * Views to model input tensors: torchvision `ToTensor()` + `Normalize(0.5, 0.5)`, then the bf16
 * cast of `infer()` (spec §3.6, implementer note 3).
 *
 * @module
 */
import { roundToBf16InPlace } from "../util/bf16.ts";

import type { RgbImage } from "./image.ts";

/**
 * Normalised value of every byte, computed as torchvision does in float32 with a rounding after
 * each step: fround(fround(fround(v / 255) - 0.5) / 0.5). Computing in double and rounding once
 * changes about half of the values by one ulp.
 */
const NORM_LUT: Float32Array = (() => {
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    const a = Math.fround(v / 255);
    const b = Math.fround(a - 0.5);
    lut[v] = Math.fround(b / 0.5);
  }
  return lut;
})();

/**
 * Converts an RGB view to the normalised float32 tensor [3, H, W] (C order, channel-major):
 * x = ((v / 255) - 0.5) / 0.5 with float32 rounding after each step, so the 127 padding grey
 * becomes -0.0039215684 (spec §3.6).
 *
 * @param img - the view (H = img.height, W = img.width pixels)
 * @returns a new Float32Array of length 3·H·W, index c·H·W + y·W + x
 */
export function toNormalizedTensor(img: RgbImage): Float32Array {
  const hw = img.width * img.height;
  const out = new Float32Array(3 * hw);
  const d = img.data;
  for (let p = 0, i = 0; p < hw; p++, i += 3) {
    out[p] = NORM_LUT[d[i]];
    out[hw + p] = NORM_LUT[d[i + 1]];
    out[2 * hw + p] = NORM_LUT[d[i + 2]];
  }
  return out;
}

/**
 * Rounds every float32 in place to bfloat16 (round to nearest, ties to even on the f32 bits, as
 * torch's `.to(torch.bfloat16)`) and stores the widened value back as float32 (src/util/bf16.ts:
 * NaN stays a quiet NaN; infinities stay infinite; values that overflow round to ±inf).
 *
 * @param values - float32 values, modified in place
 * @returns the same array
 */
export function roundToBf16(values: Float32Array): Float32Array {
  return roundToBf16InPlace(values);
}

/** Options of {@link normalizeView}. */
export interface NormalizeViewOptions {
  /** Round to bf16 after normalising, as `infer()` does (`.to(torch.bfloat16)`); default true. */
  bf16?: boolean;
}

/**
 * {@link toNormalizedTensor}, then (by default) {@link roundToBf16}: the exact pixel values the
 * official `infer()` hands to the vision encoder.
 *
 * @param img - the view
 * @param opts - `bf16` (default true)
 * @returns Float32Array [3, H, W]
 */
export function normalizeView(img: RgbImage, opts: NormalizeViewOptions = {}): Float32Array {
  const t = toNormalizedTensor(img);
  return opts.bf16 === false ? t : roundToBf16(t);
}
