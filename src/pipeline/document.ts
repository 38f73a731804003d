/**
 * The records of one document's JSON output, `<name>.json` (schema: schema/document.schema.json,
 * `schema_version` 1): the document's provenance (input, its SHA-256, model, settings) and one
 * record per page with the raw output, the clean markdown, the layout blocks with their boxes
 * (model 0..999 scale and page pixels), the image crops, the token ids, usage and timings.
 *
 * The files themselves are written by `DocumentWriter` (document-writer.ts).
 */
import { basename, extname } from "node:path";
import type { PageResult } from "./engine.ts";
import { type Box, parseGrounding, toPixels } from "./grounding.ts";
import { cleanMarkdown, markdownLinkTarget } from "./markdown.ts";

/** Version of the JSON layout written by this code (`schema_version`). */
export const SCHEMA_VERSION = 1;

/** One layout block of a page (a grounding span and its content, spec 9.1). */
export interface BlockRecord {
  /** The span's label (`title`, `text`, `table`, `image`, ...), null for text before the first span. */
  label: string | null;
  /** The block's content, trimmed (markdown / LaTeX / HTML as the model wrote it). */
  text: string;
  /** Boxes `[x1, y1, x2, y2]` on the model's 0..999 scale (integers, x1 <= x2, y1 <= y2). */
  boxes: Box[];
  /** The same boxes in page pixels (`int(v / 999 * W)`, spec 9.1). */
  boxes_px: Box[];
}

/** One image crop written for a page. */
export interface ImageRecord {
  /** Path of the PNG file relative to the output directory (and to `<name>.md`). */
  path: string;
  /** The cropped rectangle `[x1, y1, x2, y2]` in page pixels (x2, y2 exclusive). */
  box_px: Box;
}

/** One page of a document, as written to `<name>.json`. */
export interface PageRecord {
  /** 1-based page number in the input. */
  page: number;
  /** Page width in pixels (as rendered / decoded); 0 for a failed page whose size is unknown. */
  width: number;
  /** Page height in pixels; 0 for a failed page whose size is unknown. */
  height: number;
  /** True when the page ended with EOS; false when it hit the token limit, was aborted or failed. */
  finished: boolean;
  /** Why generation stopped: `eos`, `max-new-tokens`, `max-length`, `aborted`, or `error` (failed page). */
  stop: string;
  /** True when this result comes from a second attempt at the page. */
  retried: boolean;
  /** Only on a failed page: what went wrong (render or recognition error). */
  error?: string;
  /** Output with grounding spans and special tokens, trailing EOS removed ("" for a failed page). */
  raw: string;
  /** The page's clean markdown as it appears in `<name>.md` (an HTML comment for a failed page). */
  markdown: string;
  blocks: BlockRecord[];
  /** The crops of the page's `image` boxes, in box order (empty boxes have none). */
  images: ImageRecord[];
  /** Generated token ids (the EOS id included when generated). */
  tokens: number[];
  usage: {
    /** Prompt length in tokens (BOS, image tokens and text). */
    prompt_tokens: number;
    /** Image tokens in the prompt. */
    image_tokens: number;
    /** Generated tokens (= `tokens.length`). */
    completion_tokens: number;
  };
  /** Tile grid [cols, rows], or null when only the global view was used (or the page failed). */
  grid: [number, number] | null;
  /** Seconds per stage, rounded to milliseconds; `total` is their sum. */
  timings: { preprocess: number; encode: number; prefill: number; decode: number; total: number };
}

/** What a document's JSON says about where it comes from (everything but the pages). */
export interface DocumentMeta {
  /** Absolute path of the input file. */
  input: string;
  /** SHA-256 of the input file's bytes, lowercase hex (see `inputHash` in inputs.ts). */
  input_sha256: string;
  /** The model (checkpoint directory, absolute, or another identifier). */
  model: string;
  /** The settings that shape the output (prompt, limits, dpi, precision, ...). */
  settings: Record<string, unknown>;
  /** Hash of `settings` (see `settingsHash`): pages of a previous run are reusable when it matches. */
  settings_hash: string;
  /** Number of pages in the input. */
  page_count: number;
}

/** A document's JSON output, `<name>.json`. */
export interface DocumentRecord extends DocumentMeta {
  /** Layout version of this record ({@link SCHEMA_VERSION}). */
  schema_version: 1;
  /** False while the document is being written (or when the run was interrupted). */
  complete: boolean;
  /** Pages sorted by page number; failed pages included (with `error`). */
  pages: PageRecord[];
}

/** An image crop of a page, keyed by its box number (`imageBoxes` numbering). */
export interface PageImage extends ImageRecord {
  /** Number of the box among the page's `image` boxes (0-based), as in the file name. */
  boxIndex: number;
}

/** Options of {@link pageRecord}. */
export interface PageRecordOptions {
  /** The page is a second attempt. Default false. */
  retried?: boolean;
  /**
   * Crops written for the page's image boxes. The box with a crop becomes a markdown link to its
   * `path`; an image box without a crop (or every one, when this is omitted) is deleted like the
   * other spans.
   */
  images?: readonly PageImage[];
}

const round3 = (s: number) => Math.round(s * 1000) / 1000;

/**
 * The layout blocks of a page's raw output (spec 9.1): label, trimmed text, boxes on the 0..999
 * scale and in pixels of the `width` x `height` page (`int(x / 999 * W)`).
 */
export function blockRecords(raw: string, width: number, height: number): BlockRecord[] {
  return parseGrounding(raw).blocks.map((b) => ({
    label: b.label,
    text: b.text.trim(),
    boxes: b.boxes.map((x): Box => [...x]),
    boxes_px: b.boxes.map((x) => toPixels(x, width, height)),
  }));
}

/**
 * Turns an engine result into the page record of the JSON output.
 *
 * @param page 1-based page number.
 * @param r the engine's result for the page (`r.image` gives the page size in pixels).
 * @param opts whether the page was retried, and its image crops.
 * @returns the record; never throws.
 */
export function pageRecord(page: number, r: PageResult, opts: PageRecordOptions = {}): PageRecord {
  const { width, height } = r.image;
  const blocks = blockRecords(r.raw, width, height);
  const images = [...(opts.images ?? [])].sort((a, b) => a.boxIndex - b.boxIndex);
  const links = new Map(images.map((im) => [im.boxIndex, markdownLinkTarget(im.path)]));
  const t = r.timings;
  return {
    page,
    width,
    height,
    finished: r.finished,
    stop: r.stop,
    retried: opts.retried ?? false,
    raw: r.raw,
    markdown: cleanMarkdown(r.raw, { imageLinks: (_span, box) => links.get(box) ?? null }),
    blocks,
    images: images.map((im) => ({ path: im.path, box_px: [...im.box_px] })),
    tokens: r.tokens,
    usage: { prompt_tokens: r.promptTokens, image_tokens: r.imageTokens, completion_tokens: r.tokens.length },
    grid: r.grid,
    timings: {
      preprocess: round3(t.preprocess),
      encode: round3(t.encode),
      prefill: round3(t.prefill),
      decode: round3(t.decode),
      total: round3(t.preprocess + t.encode + t.prefill + t.decode),
    },
  };
}

/**
 * The markdown of a page that failed: an HTML comment, so that the page is visible in the source
 * but renders as nothing. `--` in the message is broken up, as HTML comments cannot contain it.
 *
 * @param page 1-based page number.
 * @param error the error message (only its first line is used).
 */
export function failedPageMarkdown(page: number, error: string): string {
  const msg = error.split("\n")[0].replace(/-(?=-)/g, "- ");
  return `<!-- dsocr: page ${page} failed: ${msg} -->`;
}

/**
 * The record of a page that could not be rendered or recognised: `error` set, `stop` = `"error"`,
 * the markdown a comment saying so ({@link failedPageMarkdown}), size 0 x 0 unless given, no
 * output.
 *
 * @param page 1-based page number.
 * @param error what went wrong.
 * @param size the page size in pixels when known (e.g. rendering worked, recognition failed).
 */
export function failedPageRecord(page: number, error: string, size?: { width: number; height: number }): PageRecord {
  return {
    page,
    width: size?.width ?? 0,
    height: size?.height ?? 0,
    finished: false,
    stop: "error",
    retried: false,
    error,
    raw: "",
    markdown: failedPageMarkdown(page, error),
    blocks: [],
    images: [],
    tokens: [],
    usage: { prompt_tokens: 0, image_tokens: 0, completion_tokens: 0 },
    grid: null,
    timings: { preprocess: 0, encode: 0, prefill: 0, decode: 0, total: 0 },
  };
}

/**
 * Assembles a document record: `schema_version`, the metadata, `complete`, and the pages sorted by
 * page number.
 */
export function documentRecord(meta: DocumentMeta, pages: Iterable<PageRecord>, complete: boolean): DocumentRecord {
  return {
    schema_version: SCHEMA_VERSION,
    input: meta.input,
    input_sha256: meta.input_sha256,
    model: meta.model,
    settings: meta.settings,
    settings_hash: meta.settings_hash,
    page_count: meta.page_count,
    complete,
    pages: [...pages].sort((a, b) => a.page - b.page),
  };
}

/**
 * A light structural check of a parsed `<name>.json` (what `--resume` relies on): an object with
 * `schema_version` 1, the metadata fields and a `pages` array of objects with integer `page`,
 * string `raw` and `markdown`, numeric `width`/`height` and arrays `blocks`, `images`, `tokens`.
 * The full description is schema/document.schema.json.
 */
export function isDocumentRecord(v: unknown): v is DocumentRecord {
  if (typeof v !== "object" || v === null) return false;
  const d = v as Record<string, unknown>;
  if (d.schema_version !== SCHEMA_VERSION || !Array.isArray(d.pages)) return false;
  if (typeof d.input !== "string" || typeof d.input_sha256 !== "string" || typeof d.model !== "string") return false;
  if (typeof d.settings !== "object" || d.settings === null || typeof d.settings_hash !== "string") return false;
  if (!Number.isInteger(d.page_count) || typeof d.complete !== "boolean") return false;
  return d.pages.every((p: unknown) => {
    if (typeof p !== "object" || p === null) return false;
    const r = p as Record<string, unknown>;
    return (
      Number.isInteger(r.page) &&
      (r.page as number) >= 1 &&
      typeof r.raw === "string" &&
      typeof r.markdown === "string" &&
      typeof r.width === "number" &&
      typeof r.height === "number" &&
      Array.isArray(r.blocks) &&
      Array.isArray(r.images) &&
      Array.isArray(r.tokens)
    );
  });
}

/** Output base name of an input: its file name without the extension. */
export function outputName(input: string): string {
  const b = basename(input);
  const ext = extname(b);
  return ext ? b.slice(0, -ext.length) : b;
}
