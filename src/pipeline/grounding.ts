/**
 * Parsing of the model's grounding spans (../shared/spec/deepseek-ocr.md section 9.1).
 *
 * With a `<|grounding|>` prompt the model writes, before each block of content, a layout span
 *
 *     <|ref|>LABEL<|/ref|><|det|>[[x1, y1, x2, y2], ...]<|/det|>
 *
 * with coordinates on a 0..999 scale. The official scripts extract spans with the DOTALL,
 * non-greedy regex `(<\|ref\|>(.*?)<\|/ref\|><\|det\|>(.*?)<\|/det\|>)` and `eval` the
 * coordinate list. On well-formed output this parser finds exactly the same spans. It also
 * copes with what a sampled or length-limited generation produces:
 *
 * - a page cut off inside a span (`<|ref|>text<|/ref|><|det|>[[1, 2, 3` at the end);
 * - a span missing its `<|det|>` part, a `<|det|>` without `<|ref|>`, stray closing tags, a
 *   `<|ref|>` opened inside another (the regex would swallow both into one label);
 * - whitespace between `<|/ref|>` and `<|det|>` and inside the coordinate list;
 * - non-numeric, incomplete or out-of-range coordinates.
 *
 * Every such fragment becomes a block with `complete: false`, so that the markdown cleaner
 * removes it as it removes well-formed spans (the official code would leave it in the text).
 */

/** A box `[x1, y1, x2, y2]`: integers on the model's 0..999 scale, or pixels after {@link toPixels}. */
export type Box = [number, number, number, number];

/** One layout block: a grounding span and the content that follows it. */
export interface Block {
  /**
   * The span's label (`text`, `title`, `table`, `image`, ...; trimmed), or null for the
   * content before the first span and for a `<|det|>` or closing tag without a `<|ref|>`.
   */
  label: string | null;
  /**
   * The span's boxes on the 0..999 scale, in the order written: integers (non-integers are
   * truncated toward zero, like Python `int`), clamped to 0..999, and ordered so that
   * x1 <= x2 and y1 <= y2. Coordinate groups that are not 4 numbers are skipped.
   */
  boxes: Box[];
  /**
   * The raw content after the span up to the next span (or the end of the output), as written:
   * not trimmed, other markup (tables, LaTeX) untouched.
   */
  text: string;
  /** Offset (UTF-16 code units) in `raw` where the span starts (= `textStart` for a span-less block). */
  start: number;
  /** Offset where the span ends and `text` begins. */
  textStart: number;
  /** Offset where `text` ends (the next span's `start`, or the end of the content). */
  end: number;
  /**
   * True for a span with all four tags in order (`<|ref|>`, `<|/ref|>`, `<|det|>`, `<|/det|>`;
   * whitespace allowed between `<|/ref|>` and `<|det|>`) and for the span-less leading block.
   */
  complete: boolean;
}

/** Result of {@link parseGrounding}. */
export interface Grounding {
  /** Blocks in output order. `raw.slice(b.start, b.end)` is the span plus its content. */
  blocks: Block[];
}

/** The end-of-sentence token as the tokenizer decodes it (full-width bars, U+2581). */
export const EOS_TEXT = "<\uFF5Cend\u2581of\u2581sentence\uFF5C>";

type TagKind = "ref" | "/ref" | "det" | "/det";
interface Tag {
  kind: TagKind;
  pos: number;
  end: number;
}
interface Span {
  start: number;
  end: number;
  label: string | null;
  coords: string | null;
  complete: boolean;
}

const TAG_RE = /<\|(\/?)(ref|det)\|>/g;
const GROUP_RE = /\[([^[\]]*)\]/g;
// The start of a tag (or of the end-of-sentence marker) at the very end of a cut-off output.
const PARTIAL_TAG_RE = /<(?:\|\/?(?:(?:ref|det)\|?|re?|de?)?|\uFF5C[^>]*)$/;
const NUMBER_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Splits raw model output into layout blocks (spec 9.1).
 *
 * Text before the first span (if it has any non-whitespace) is a block with label null; output
 * without any span (e.g. from the `Free OCR.` prompt) is one such block. A trailing end-of-sentence
 * marker ({@link EOS_TEXT}, possibly followed by whitespace) is not part of any block.
 *
 * A cut-off output may end inside a tag's text (`...<|de`): that fragment is dropped too.
 *
 * Unterminated pieces: an unclosed label or coordinate list runs to the next tag, the end of the
 * output, or the first newline, whichever comes first (labels and coordinate lists never span
 * lines; what follows the newline is content).
 *
 * @param raw the decoded output of one page/image, special tokens kept.
 * @returns the blocks; never throws.
 */
export function parseGrounding(raw: string): Grounding {
  let limit = raw.length;
  const trimmed = raw.trimEnd();
  if (trimmed.endsWith(EOS_TEXT)) limit = trimmed.length - EOS_TEXT.length;
  else limit -= PARTIAL_TAG_RE.exec(raw)?.[0].length ?? 0;

  const tags: Tag[] = [];
  for (const m of raw.slice(0, limit).matchAll(TAG_RE)) {
    const pos = m.index ?? 0;
    tags.push({ kind: `${m[1]}${m[2]}` as TagKind, pos, end: pos + m[0].length });
  }

  // End of an unterminated label/coordinate region that starts at `from`.
  const regionEnd = (from: number, next: Tag | undefined): number => {
    const stop = next ? next.pos : limit;
    const nl = raw.indexOf("\n", from);
    return nl >= 0 && nl < stop ? nl : stop;
  };

  const spans: Span[] = [];
  let i = 0;
  while (i < tags.length) {
    const t = tags[i];
    if (t.kind === "ref") {
      const close = tags[i + 1];
      if (close?.kind !== "/ref") {
        // unclosed label: cut off, or followed by another tag
        const end = regionEnd(t.end, close);
        spans.push({ start: t.pos, end, label: raw.slice(t.end, end), coords: null, complete: false });
        i += 1;
        continue;
      }
      const label = raw.slice(t.end, close.pos);
      const det = tags[i + 2];
      if (det && det.kind === "det" && raw.slice(close.end, det.pos).trim() === "") {
        const detClose = tags[i + 3];
        if (detClose && detClose.kind === "/det") {
          spans.push({
            start: t.pos,
            end: detClose.end,
            label,
            coords: raw.slice(det.end, detClose.pos),
            complete: true,
          });
          i += 4;
        } else {
          const end = regionEnd(det.end, detClose);
          spans.push({ start: t.pos, end, label, coords: raw.slice(det.end, end), complete: false });
          i += 3;
        }
      } else {
        // <|ref|>label<|/ref|> without coordinates
        spans.push({ start: t.pos, end: close.end, label, coords: null, complete: false });
        i += 2;
      }
    } else if (t.kind === "det") {
      // coordinates without a label
      const close = tags[i + 1];
      if (close && close.kind === "/det") {
        spans.push({ start: t.pos, end: close.end, label: null, coords: raw.slice(t.end, close.pos), complete: false });
        i += 2;
      } else {
        const end = regionEnd(t.end, close);
        spans.push({ start: t.pos, end, label: null, coords: raw.slice(t.end, end), complete: false });
        i += 1;
      }
    } else {
      // stray <|/ref|> or <|/det|>
      spans.push({ start: t.pos, end: t.end, label: null, coords: null, complete: false });
      i += 1;
    }
  }

  const blocks: Block[] = [];
  const first = spans.length > 0 ? spans[0].start : limit;
  const lead = raw.slice(0, first);
  if (lead.trim() !== "") {
    blocks.push({ label: null, boxes: [], text: lead, start: 0, textStart: 0, end: first, complete: true });
  }
  spans.forEach((s, k) => {
    const end = k + 1 < spans.length ? spans[k + 1].start : limit;
    blocks.push({
      label: s.label === null ? null : s.label.trim(),
      boxes: s.coords === null ? [] : parseBoxes(s.coords),
      text: raw.slice(s.end, end),
      start: s.start,
      textStart: s.end,
      end,
      complete: s.complete,
    });
  });
  return { blocks };
}

/**
 * Parses a coordinate list such as `[[10, 20, 300, 400], [5, 6, 7, 8]]` (a Python literal list of
 * 4-number lists; a single flat `[x1, y1, x2, y2]` is accepted too). Every innermost `[...]` group
 * of exactly 4 numbers (a trailing comma allowed) gives one box; other groups are skipped.
 * Values are truncated toward zero, clamped to 0..999, and each box is ordered (x1 <= x2, y1 <= y2).
 *
 * @param coords the text between `<|det|>` and `<|/det|>`.
 * @returns the boxes, possibly empty; never throws.
 */
export function parseBoxes(coords: string): Box[] {
  const boxes: Box[] = [];
  for (const m of coords.matchAll(GROUP_RE)) {
    const parts = m[1].split(",").map((p) => p.trim());
    if (parts.length === 5 && parts[4] === "") parts.pop();
    if (parts.length !== 4 || !parts.every((p) => NUMBER_RE.test(p))) continue;
    const [a, b, c, d] = parts.map((p) => clamp999(Number(p)));
    boxes.push([Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)]);
  }
  return boxes;
}

function clamp999(v: number): number {
  const t = Math.trunc(v);
  return Math.max(0, Math.min(999, t));
}

/**
 * Converts a box from the 0..999 scale to pixels of an image of `width` x `height` pixels,
 * exactly as the official scripts do: `int(x / 999 * W)`, `int(y / 999 * H)` (truncation; the
 * divisor is 999, not 1000; spec 9.1 and pitfall 21). The image is the original one (after EXIF
 * and RGB conversion) or the rendered PDF page, not the padded model view.
 *
 * @param box `[x1, y1, x2, y2]` on the 0..999 scale.
 * @param width image width in pixels.
 * @param height image height in pixels.
 * @returns `[x1, y1, x2, y2]` in pixels (x2 = width for x2 = 999).
 */
export function toPixels(box: Box, width: number, height: number): Box {
  return [
    Math.trunc((box[0] / 999) * width),
    Math.trunc((box[1] / 999) * height),
    Math.trunc((box[2] / 999) * width),
    Math.trunc((box[3] / 999) * height),
  ];
}
