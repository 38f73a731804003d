/**
 * Types of the library API ({@link DeepSeekOCR}): what goes in (images, options) and what comes
 * out (a page's markdown, raw output, layout blocks with boxes, token counts, timings).
 */
import type { Precision } from "../kernels/types.ts";
import type { Box } from "../pipeline/grounding.ts";
import type { PageFlags } from "../pipeline/options.ts";
import type { RgbImage } from "../preprocess/image.ts";

/**
 * An image to recognise: a file path, the encoded bytes of an image file (PNG, JPEG, WebP, TIFF
 * first page, GIF first frame, BMP), or decoded RGB pixels (`data.length = width * height * 3`).
 */
export type ImageInput = string | Uint8Array | RgbImage;

/** Options of {@link DeepSeekOCR.load}. */
export interface LoadOptions {
  /** Compute threads (default: every core). */
  threads?: number;
  /** `auto` (default): bf16 with the AVX2 or AVX-512 kernels, f32 with the scalar ones. See `dsocr --help`. */
  precision?: Precision | "auto";
  /**
   * Pages decoded together in one batched step (default 1): concurrent {@link DeepSeekOCR.extract}
   * calls and the pages of {@link DeepSeekOCR.extractDocument} share each weight read.
   */
  concurrency?: number;
  /** Download a hub model missing from the Hugging Face cache (default true unless HF_HUB_OFFLINE). */
  download?: boolean;
  /** Hub revision (branch, tag or commit) when `model` is a repo id (default `main`). */
  revision?: string;
  /**
   * Pack cache for `bf16` / `int8` (default off): `true` keeps the packed weights in
   * `<checkpoint>/.dsocr-cache`, a string names the directory. The first load writes them (about as
   * much disk as the packed model: 6.8 GB bf16, 3.4 GB int8), later loads map them (about 1 s
   * instead of ~5). Do not modify the file while a model maps it.
   */
  packCache?: boolean | string;
}

/** Options of one page (defaults: the official PDF script, spec 8.2 and 9.2; fields in {@link PageFlags}). */
export interface ExtractOptions extends PageFlags {
  /** Aborts the page: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called with each generated token id and the text it completes (may be ""). */
  onToken?: (id: number, text: string) => void;
}

/** Options of {@link DeepSeekOCR.extractDocument}. */
export interface DocumentOptions extends Omit<ExtractOptions, "onToken"> {
  /** 1-based page numbers to recognise (default: all). */
  pages?: number[];
  /** PDF render resolution in dots per inch (default 144, as the official script). */
  dpi?: number;
}

/** A layout block: a grounding span (`<|ref|>label<|/ref|><|det|>boxes<|/det|>`) and its content. */
export interface ResultBlock {
  /** `title`, `text`, `table`, `image`, ...; null for text before the first span. */
  label: string | null;
  /** The block's content, trimmed (markdown, LaTeX or an HTML table as the model writes it). */
  text: string;
  /** Boxes `[x1, y1, x2, y2]` on the model's 0..999 scale. */
  boxes: Box[];
  /** The same boxes in pixels of the input image (`int(x / 999 * width)`, spec 9.1). */
  boxesPx: Box[];
}

/** Token counts of one page. */
export interface Usage {
  /** Prompt length in tokens, image tokens included. */
  promptTokens: number;
  /** Of which image tokens (vision embeddings). */
  imageTokens: number;
  /** Generated tokens (EOS included when generated). */
  completionTokens: number;
}

/** The result of one page. */
export interface ExtractResult {
  /** Clean markdown: grounding spans removed (image regions are not linked: crop them with `blocks`). */
  markdown: string;
  /** The model's output with grounding spans, trailing EOS removed. */
  raw: string;
  blocks: ResultBlock[];
  /** Generated token ids. */
  tokens: number[];
  /** True when the page ended with EOS; false when it reached `maxTokens`. */
  finished: boolean;
  usage: Usage;
  /** Seconds per stage. */
  timings: { preprocess: number; encode: number; prefill: number; decode: number; total: number };
  /** Size of the recognised image in pixels (after EXIF rotation; a PDF page as rendered). */
  image: { width: number; height: number };
}

/** One page of {@link DeepSeekOCR.extractDocument}. */
export interface PageExtract extends ExtractResult {
  /** 1-based page number in the document. */
  page: number;
}
