/**
 * Turning raw model output into the final markdown (../shared/spec/deepseek-ocr.md section 9.2).
 *
 * Image links: the official PDF script numbers its image links by *span* (the i-th `image` span
 * becomes `images/{page}_{i}.jpg`) but its crop files by *box* (`images/{page}_{k}.jpg`, k counting
 * the boxes of all `image` spans of the page), so the two disagree as soon as one `image` span has
 * several boxes (spec pitfall 18). Here there is ONE scheme: every box of every `image` span gets
 * its own crop and its own link, numbered by box: see {@link imageBoxes}, which the cropping code
 * and {@link cleanMarkdown} both use, and {@link imageLinkPath} for the file name.
 */
import { type Block, type Box, EOS_TEXT, type Grounding, parseGrounding } from "./grounding.ts";

/** What the official PDF script appends after every page (spec 9.2). */
export const PAGE_SPLIT = "\n\n<--- Page Split --->\n";

/** One box of an `image` span, as numbered for crops and links. */
export interface ImageBox {
  /** Index of the `image` span among the page's `image` spans (0-based). */
  spanIndex: number;
  /** Index of the box among all boxes of the page's `image` spans (0-based): the crop/link number. */
  boxIndex: number;
  /** The box on the 0..999 scale (convert with `toPixels` before cropping). */
  box: Box;
  /** The block the box belongs to. */
  block: Block;
}

/** Options of {@link cleanMarkdown}. */
export interface CleanMarkdownOptions {
  /**
   * Link target for box `boxIndex` of the `spanIndex`-th `image` span (numbering of
   * {@link imageBoxes}), e.g. `(s, b) => imageLinkPath(page, b)`, or null to emit no link for
   * that box (e.g. the crop failed). Without this option image spans are deleted with no link,
   * as the official batch-eval scripts do (spec 9.5).
   */
  imageLinks?: (spanIndex: number, boxIndex: number) => string | null;
}

/**
 * Enumerates the boxes of the `image` spans of one page, in output order, with the numbering
 * used for crop files and links (see the module comment).
 *
 * @param grounding the result of `parseGrounding`, or its blocks.
 * @returns one entry per box; an `image` span without a parsable box has no entry but still
 *   counts in `spanIndex`.
 */
export function imageBoxes(grounding: Grounding | Block[]): ImageBox[] {
  const blocks = Array.isArray(grounding) ? grounding : grounding.blocks;
  const out: ImageBox[] = [];
  let spanIndex = 0;
  for (const block of blocks) {
    if (block.label !== "image" || block.start === block.textStart) continue;
    for (const box of block.boxes) out.push({ spanIndex, boxIndex: out.length, box, block });
    spanIndex++;
  }
  return out;
}

/**
 * Relative path of the crop of box `boxIndex` of page `page`: `images/<page>_<boxIndex>.<ext>`
 * (the official script writes `images/{jdx}_{k}.jpg`, jdx counting kept pages from 0).
 *
 * @param page page number as used in file names (0-based in the official script).
 * @param boxIndex box number from {@link imageBoxes}.
 * @param ext file extension without the dot. Default `png`.
 */
export function imageLinkPath(page: number, boxIndex: number, ext = "png"): string {
  return `images/${page}_${boxIndex}.${ext}`;
}

/**
 * Cleans the raw output of one page into markdown (spec 9.2, "Clean text"):
 *
 * 1. every `<｜end▁of▁sentence｜>` is removed (the official code replaces all occurrences);
 * 2. each `image` span is replaced by one `![](<link>)\n` per box (links from
 *    `opts.imageLinks`, numbered as in {@link imageBoxes}); every other span, including
 *    malformed and unfinished ones (see `parseGrounding`), is deleted;
 * 3. `\coloneqq` -> `:=` and `\eqqcolon` -> `=:`;
 * 4. runs of 3 or more newlines become 2;
 * 5. the result is trimmed.
 *
 * Differences from the official script, on purpose: steps 3 and 4 are applied once to the whole
 * page (the script repeats them once per non-image span, and skips them on pages without such
 * spans, which leaves 3+ newlines in span-less output); malformed spans are removed too.
 *
 * @param raw decoded model output of one page, special tokens kept.
 * @param opts image-link callback.
 * @returns the cleaned markdown (no trailing newline).
 */
export function cleanMarkdown(raw: string, opts: CleanMarkdownOptions = {}): string {
  const text = raw.split(EOS_TEXT).join("");
  const { blocks } = parseGrounding(text);
  const links = new Map<Block, string>();
  if (opts.imageLinks) {
    for (const ib of imageBoxes(blocks)) {
      const link = opts.imageLinks(ib.spanIndex, ib.boxIndex);
      if (link != null) links.set(ib.block, `${links.get(ib.block) ?? ""}![](${link})\n`);
    }
  }
  let out = "";
  for (const b of blocks) out += (links.get(b) ?? "") + b.text;
  return out
    .replaceAll("\\coloneqq", ":=")
    .replaceAll("\\eqqcolon", "=:")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/**
 * Joins the cleaned (or raw) texts of the pages of a document as the official PDF script does:
 * every page, the last one included, is followed by {@link PAGE_SPLIT}
 * (`"\n\n<--- Page Split --->\n"`; spec 9.2).
 *
 * @param pages page texts in order.
 * @returns the document text ("" for no pages).
 */
export function joinPages(pages: string[]): string {
  return pages.map((p) => p + PAGE_SPLIT).join("");
}

/**
 * Makes a relative file path usable as a markdown link destination (`![](<here>)`): ASCII
 * characters other than letters, digits, `-._~/` (spaces, parentheses, `%`, `<`, ...) and
 * non-ASCII whitespace are percent-encoded (UTF-8); other non-ASCII characters are kept as they are.
 * `decodeURIComponent` gives the path back.
 *
 * @param path a relative path with `/` separators, e.g. `images/my report (v2)/1_0.png`.
 * @returns e.g. `images/my%20report%20%28v2%29/1_0.png`.
 */
export function markdownLinkTarget(path: string): string {
  let out = "";
  for (const ch of path) {
    const cp = ch.codePointAt(0) ?? 0;
    const keep = cp < 0x80 ? /[A-Za-z0-9\-._~/]/.test(ch) : !/[\s\p{C}]/u.test(ch);
    if (keep) out += ch;
    else for (const byte of Buffer.from(ch, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
