/**
 * One document's outputs (spec 9): `<name>.md` (clean markdown, pages joined with the official
 * page-split marker) and `<name>.json` (pages with raw output, blocks with boxes, token ids,
 * whether the page ended with EOS, timings). Files are written atomically.
 */
import { basename, extname, join } from "node:path";
import { writeFileAtomic } from "../util/atomic.ts";
import type { PageResult } from "./engine.ts";
import { parseGrounding, toPixels } from "./grounding.ts";
import { cleanMarkdown, joinPages } from "./markdown.ts";

/** One page of a document, as written to `<name>.json`. */
export interface PageRecord {
  /** 1-based page number. */
  page: number;
  width: number;
  height: number;
  /** True when the page ended with EOS; false when it hit the token limit (or was aborted). */
  finished: boolean;
  stop: string;
  /** Output with grounding spans and special tokens, trailing EOS removed. */
  raw: string;
  markdown: string;
  blocks: { label: string | null; text: string; boxes: number[][]; boxes_px: number[][] }[];
  /** Generated token ids. */
  tokens: number[];
  prompt_tokens: number;
  image_tokens: number;
  grid: [number, number] | null;
  /** Seconds per stage. */
  timings: { preprocess: number; encode: number; prefill: number; decode: number; total: number };
}

/** A document's JSON output. */
export interface DocumentRecord {
  input: string;
  model: string;
  settings: Record<string, unknown>;
  pages: PageRecord[];
}

/** Turns an engine result into the page record of the JSON output. */
export function pageRecord(page: number, r: PageResult): PageRecord {
  const { width, height } = r.image;
  const blocks = parseGrounding(r.raw).blocks.map((b) => ({
    label: b.label,
    text: b.text.trim(),
    boxes: b.boxes.map((x) => [...x]),
    boxes_px: b.boxes.map((x) => toPixels(x, width, height)),
  }));
  const t = r.timings;
  const round = (s: number) => Math.round(s * 1000) / 1000;
  return {
    page,
    width,
    height,
    finished: r.finished,
    stop: r.stop,
    raw: r.raw,
    markdown: cleanMarkdown(r.raw),
    blocks,
    tokens: r.tokens,
    prompt_tokens: r.promptTokens,
    image_tokens: r.imageTokens,
    grid: r.grid,
    timings: {
      preprocess: round(t.preprocess),
      encode: round(t.encode),
      prefill: round(t.prefill),
      decode: round(t.decode),
      total: round(t.preprocess + t.encode + t.prefill + t.decode),
    },
  };
}

/** Output base name of an input: its file name without the extension. */
export function outputName(input: string): string {
  const b = basename(input);
  const ext = extname(b);
  return ext ? b.slice(0, -ext.length) : b;
}

/**
 * Writes `<out>/<name>.md` and `<out>/<name>.json` atomically.
 * @returns the paths written
 * @throws file-system errors (the previous files, if any, are left intact)
 */
export async function writeDocument(outDir: string, name: string, doc: DocumentRecord): Promise<string[]> {
  const md = join(outDir, `${name}.md`);
  const json = join(outDir, `${name}.json`);
  await writeFileAtomic(md, joinPages(doc.pages.map((p) => p.markdown)));
  await writeFileAtomic(json, `${JSON.stringify(doc, null, 2)}\n`);
  return [md, json];
}
