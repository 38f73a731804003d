/**
 * Prompts and the prompt token layout (spec 4.1–4.4): presets, the `plain` conversation template,
 * the `<image>` split with the image-token runs, and the number of image tokens per image for
 * DeepSeek-OCR 2 (v2) and DeepSeek-OCR (v1).
 */
import { BOS_ID, IMAGE_TOKEN, IMAGE_TOKEN_ID } from "../tokenizer/special.ts";

/** Named prompts (spec 4.1). `locate:<text>` is handled by {@link resolvePrompt}. */
export const PROMPT_PRESETS = Object.freeze({
  /** Document to markdown with layout spans; the default of every official entry point. */
  document: "<image>\n<|grounding|>Convert the document to markdown.",
  /** Plain OCR without layout spans. */
  free: "<image>\nFree OCR.",
  /** Figures in documents (v1 list; may not be trained for v2). */
  figure: "<image>\nParse the figure.",
  /** General description (v1 list; may not be trained for v2). */
  describe: "<image>\nDescribe this image in detail.",
});

/** A preset name of {@link PROMPT_PRESETS}. */
export type PromptPresetName = keyof typeof PROMPT_PRESETS;

/** Prefix of the referring/locate preset: `locate:<text>` (spec 4.1, v1 list). */
export const LOCATE_PREFIX = "locate:";

/**
 * Turns a preset name or custom text into prompt text.
 *
 * - `document`, `free`, `figure`, `describe`: the strings of {@link PROMPT_PRESETS} (exact,
 *   case-sensitive names).
 * - `locate:<text>`: `"<image>\nLocate <|ref|><text><|/ref|> in the image."` (text used as is).
 * - anything else is custom prompt text, used as is when it contains `<image>` at least once
 *   (one image per `<image>`); when it has none, `"<image>\n"` is prepended so the page image
 *   comes first, as in every official prompt.
 *
 * The result is not stripped here; {@link buildPromptIds} applies the template's strip.
 *
 * @throws RangeError for `locate:` with empty text.
 */
export function resolvePrompt(presetOrText: string): string {
  if (Object.hasOwn(PROMPT_PRESETS, presetOrText)) return PROMPT_PRESETS[presetOrText as PromptPresetName];
  if (presetOrText.startsWith(LOCATE_PREFIX)) {
    const query = presetOrText.slice(LOCATE_PREFIX.length);
    if (query.length === 0) throw new RangeError("prompt 'locate:' needs a text to locate, e.g. 'locate:the title'");
    return `<image>\nLocate <|ref|>${query}<|/ref|> in the image.`;
  }
  if (presetOrText.includes(IMAGE_TOKEN)) return presetOrText;
  return `${IMAGE_TOKEN}\n${presetOrText}`;
}

/** Number of `<image>` placeholders in a prompt text (= images it takes). */
export function countImagePlaceholders(promptText: string): number {
  return promptText.split(IMAGE_TOKEN).length - 1;
}

// Python str.isspace() characters, what str.strip() removes. JS trim() differs: it also removes
// U+FEFF and keeps U+001C..U+001F and U+0085.
const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Python `str.strip()` with no argument (Unicode whitespace as `str.isspace()` defines it). */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && PY_SPACE.has(text.charCodeAt(start))) start++;
  while (end > start && PY_SPACE.has(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/**
 * The `plain` conversation template of HF `infer()` (spec 4.2): the user content stripped, then
 * the whole prompt stripped; no role markers, nothing appended.
 */
export function applyPlainTemplate(promptText: string): string {
  return pythonStrip(pythonStrip(promptText));
}

/** What {@link buildPromptIds} needs from a tokenizer (a `DeepSeekTokenizer` fits). */
export interface PromptEncoder {
  encode(text: string, options?: { addBos?: boolean }): number[];
}

/** One image's run of `<image>` ids in the prompt. */
export interface ImageSpan {
  /** Index of the first `<image>` id of the run in `ids`. */
  start: number;
  /** Number of ids in the run (the image's token count, spec 4.4). */
  length: number;
}

/** The prompt as model input (spec 4.3). */
export interface PromptIds {
  /** Token ids, BOS (0) first; every image is a run of id 128815. */
  ids: number[];
  /** `images_seq_mask`: 1 exactly where `ids` holds an image token, else 0; same length as `ids`. */
  imageMask: Uint8Array;
  /** The image runs in prompt order (image k is the k-th `<image>` of the text). */
  imageSpans: ImageSpan[];
  /** The text after the template (what was split on `<image>`). */
  text: string;
}

/** Options of {@link buildPromptIds}. */
export interface BuildPromptOptions {
  /**
   * Apply the `plain` template's strip (HF `infer()`, default true). vLLM uses the prompt as is;
   * the official vLLM prompts have no surrounding whitespace, so both agree on them.
   */
  strip?: boolean;
}

/**
 * Builds the prompt token ids as HF `infer()` and the vLLM processor do (spec 4.2, 4.3): strip
 * (template `plain`), split on `<image>`, encode each text piece without special tokens
 * (`""` gives no ids), put a run of `imageTokenCounts[k]` ids 128815 for the k-th `<image>`, and
 * prepend BOS 0 by hand. No EOS.
 *
 * @param tokenizer encoder; `encode(text, { addBos: false })` must equal Python
 *   `add_special_tokens=False`.
 * @param promptText prompt text (e.g. from {@link resolvePrompt}).
 * @param imageTokenCounts one count per `<image>` in the text, in order (see
 *   {@link imageTokenCountV2}, {@link imageTokenCountV1}).
 * @throws RangeError when the number of counts differs from the number of `<image>`
 *   placeholders, or a count is not a positive integer.
 */
export function buildPromptIds(
  tokenizer: PromptEncoder,
  promptText: string,
  imageTokenCounts: readonly number[],
  options: BuildPromptOptions = {},
): PromptIds {
  const text = (options.strip ?? true) ? applyPlainTemplate(promptText) : promptText;
  const pieces = text.split(IMAGE_TOKEN);
  const nImages = pieces.length - 1;
  if (nImages !== imageTokenCounts.length) {
    throw new RangeError(
      `prompt has ${nImages} <image> placeholder(s) but ${imageTokenCounts.length} image token count(s) were given`,
    );
  }
  for (const n of imageTokenCounts) {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`invalid image token count ${n}`);
  }
  const ids: number[] = [BOS_ID];
  const imageSpans: ImageSpan[] = [];
  for (let k = 0; k < pieces.length; k++) {
    if (pieces[k].length > 0) {
      for (const id of tokenizer.encode(pieces[k], { addBos: false })) ids.push(id);
    }
    if (k < nImages) {
      const n = imageTokenCounts[k];
      imageSpans.push({ start: ids.length, length: n });
      for (let i = 0; i < n; i++) ids.push(IMAGE_TOKEN_ID);
    }
  }
  const imageMask = new Uint8Array(ids.length);
  for (const s of imageSpans) imageMask.fill(1, s.start, s.start + s.length);
  return { ids, imageMask, imageSpans, text };
}

/** Vision geometry behind the token counts (spec 4.4). Defaults are the real models' values. */
export interface ImageTokenGeometry {
  /** Global view side in pixels (`base_size`): 1024 in every default mode. */
  baseSize?: number;
  /** Tile side in pixels (`image_size` in crop mode): v2 768, v1 640 by default. */
  tileSize?: number;
  /** SAM patch size, 16. */
  patchSize?: number;
  /** Total downsampling after the patch grid (two stride-2 convs), 4. */
  downsample?: number;
}

/**
 * Tokens per side of a square view of `size` pixels: q(s) = ceil((s // patch) / downsample)
 * (spec 4.4). q(1024) = 16, q(768) = 12, q(640) = 10, q(512) = 8, q(1280) = 20.
 */
export function tokensPerSide(size: number, patchSize = 16, downsample = 4): number {
  return Math.ceil(Math.floor(size / patchSize) / downsample);
}

function checkGrid(cols: number, rows: number, tiled: boolean): void {
  if (tiled && !(Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0)) {
    throw new RangeError(`invalid tile grid ${cols}x${rows}`);
  }
}

/**
 * Image tokens of one image for DeepSeek-OCR 2 in crop mode (spec 4.4):
 * N = q(base)² + 1 + [tiled]·(q(tile)·cols)·(q(tile)·rows); with the defaults
 * 256 + 1 + 144·cols·rows when tiled, else 257. The "+1" is the `view_seperator` slot.
 *
 * @param cols tile columns (width tiles); ignored when not tiled.
 * @param rows tile rows; ignored when not tiled.
 * @param tiled whether tiles were made (false when both sides ≤ the tile size).
 * @param geometry view sizes; defaults base 1024, tile 768, patch 16, downsample 4.
 * @throws RangeError when tiled with a non-positive or non-integer grid.
 */
export function imageTokenCountV2(
  cols: number,
  rows: number,
  tiled: boolean,
  geometry: ImageTokenGeometry = {},
): number {
  checkGrid(cols, rows, tiled);
  const { baseSize = 1024, tileSize = 768, patchSize = 16, downsample = 4 } = geometry;
  const qb = tokensPerSide(baseSize, patchSize, downsample);
  const qt = tokensPerSide(tileSize, patchSize, downsample);
  return qb * qb + 1 + (tiled ? qt * cols * (qt * rows) : 0);
}

/**
 * Image tokens of one image for DeepSeek-OCR 2 without crop mode (HF `infer(crop_mode=False)`):
 * q(image_size)² + 1 (257 for 1024, 145 for 768; spec 4.4).
 */
export function imageTokenCountV2NoCrop(
  imageSize: number,
  geometry: Omit<ImageTokenGeometry, "baseSize" | "tileSize"> = {},
): number {
  const q = tokensPerSide(imageSize, geometry.patchSize, geometry.downsample);
  return q * q + 1;
}

/**
 * Image tokens of one image for DeepSeek-OCR v1 in crop ("Gundam") mode (spec 4.4, 7.4): a newline
 * slot ends every row: N = q(base)·(q(base)+1) + 1 + [tiled]·(q(tile)·rows)·(q(tile)·cols + 1).
 * Defaults base 1024, tile 640: 273 untiled, 273 + (10·rows)·(10·cols + 1) tiled.
 *
 * @param cols tile columns (width tiles); ignored when not tiled.
 * @param rows tile rows; ignored when not tiled.
 * @param tiled whether tiles were made (false when both sides ≤ 640 in the default mode).
 * @param geometry view sizes; defaults base 1024, tile 640, patch 16, downsample 4.
 * @throws RangeError when tiled with a non-positive or non-integer grid.
 */
export function imageTokenCountV1(
  cols: number,
  rows: number,
  tiled: boolean,
  geometry: ImageTokenGeometry = {},
): number {
  checkGrid(cols, rows, tiled);
  const { baseSize = 1024, tileSize = 640, patchSize = 16, downsample = 4 } = geometry;
  const qb = tokensPerSide(baseSize, patchSize, downsample);
  const qt = tokensPerSide(tileSize, patchSize, downsample);
  return qb * (qb + 1) + 1 + (tiled ? qt * rows * (qt * cols + 1) : 0);
}

/**
 * Image tokens of one image for DeepSeek-OCR v1 without crop mode (Tiny/Small/Base/Large,
 * spec 7.1): q(s)·(q(s)+1) + 1 with s = image_size: 73, 111, 273, 421 for 512, 640, 1024, 1280.
 */
export function imageTokenCountV1NoCrop(
  imageSize: number,
  geometry: Omit<ImageTokenGeometry, "baseSize" | "tileSize"> = {},
): number {
  const q = tokensPerSide(imageSize, geometry.patchSize, geometry.downsample);
  return q * (q + 1) + 1;
}
