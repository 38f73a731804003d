/** Hand-written model outputs shaped like real DeepSeek-OCR output (spec 9.1), shared by the pipeline tests. */
import type { PageResult } from "../../src/pipeline/engine.ts";
import { EOS_TEXT } from "../../src/pipeline/grounding.ts";
import type { RgbImage } from "../../src/preprocess/image.ts";

/** A page as the model writes it with the grounding prompt (spec 9.1), ending with EOS. */
export const PAGE = [
  "<|ref|>title<|/ref|><|det|>[[94, 65, 905, 100]]<|/det|>",
  "# DeepSeek-OCR 2: Visual Causal Flow",
  "",
  "<|ref|>text<|/ref|><|det|>[[94, 120, 905, 180]]<|/det|>",
  "We define \\(a \\coloneqq b\\) and read the page in order.",
  "",
  "<|ref|>image<|/ref|><|det|>[[100, 200, 480, 420], [520, 200, 900, 420]]<|/det|>",
  "",
  "",
  "<|ref|>image_caption<|/ref|><|det|>[[100, 425, 900, 445]]<|/det|>",
  "<center>Figure 1: Two views.</center>",
  "",
  "<|ref|>table<|/ref|><|det|>[[90, 460, 910, 700]]<|/det|>",
  "<table><tr><td>Model</td><td>Score</td></tr><tr><td>A</td><td>0.91</td></tr></table>",
  "",
  "<|ref|>equation<|/ref|><|det|>[[200, 720, 800, 760]]<|/det|>",
  "\\[",
  "x \\eqqcolon y",
  `\\]${EOS_TEXT}`,
].join("\n");

/**
 * An engine result for `raw` (EOS removed, as the engine returns it) on a `width` x `height`
 * page, with plausible token counts and timings.
 */
export function pageResult(raw: string, width: number, height: number, over: Partial<PageResult> = {}): PageResult {
  const text = raw.endsWith(EOS_TEXT) ? raw.slice(0, -EOS_TEXT.length) : raw;
  return {
    raw: text,
    tokens: [...Array.from({ length: 40 }, (_, i) => 1000 + i), 1],
    finished: true,
    stop: "eos",
    promptTokens: 1 + 273 + 9,
    imageTokens: 273,
    grid: null,
    image: { width, height },
    timings: { preprocess: 0.0123, encode: 1.5, prefill: 0.25, decode: 3.2468 },
    steps: [],
    ...over,
  };
}

/**
 * A synthetic page: pixel (x, y) is `[x % 256, y % 256, 77]`, so a crop's first pixel tells
 * where it was cut from.
 */
export function positionImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = x % 256;
      data[i + 1] = y % 256;
      data[i + 2] = 77;
    }
  }
  return { width, height, data };
}
