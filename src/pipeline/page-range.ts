/**
 * Page selections as the CLI's `--pages` option writes them: `1-3,7,10-` (1-based, inclusive,
 * `N-` open-ended). {@link parsePageRange} checks the text once; {@link selectPages} applies it to
 * a document of a known page count, and {@link pagesBeyondCount} says which requested pages that
 * document does not have, so the caller can warn about them.
 *
 * @module
 */

/** One item of a page range: pages `from`..`to` (1-based, inclusive); `to` null = to the last page. */
export interface PageInterval {
  readonly from: number;
  readonly to: number | null;
}

/** A parsed `--pages` value. */
export interface PageRange {
  /** The text it was parsed from, trimmed (for messages). */
  readonly spec: string;
  /** The items in the order written (may overlap; {@link selectPages} merges them). */
  readonly intervals: readonly PageInterval[];
}

const ITEM = /^(\d+)(?:\s*(-)\s*(\d*))?$/;

function pageNumber(text: string, spec: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`invalid page range "${spec}": page number ${text} is too large`);
  if (n < 1) throw new RangeError(`invalid page range "${spec}": page numbers start at 1, got ${text}`);
  return n;
}

/**
 * Parses a page range such as `1-3,7,10-`: comma-separated items, each a page `N`, a range `N-M`
 * (N <= M) or an open range `N-` (page N to the last page). Page numbers are 1-based. Spaces
 * around items and dashes are allowed.
 *
 * @param spec - the option value
 * @returns the parsed range
 * @throws RangeError with a one-line message quoting `spec` when it is empty, has an empty item
 *   (`1,,2`), an item that is not a number or range (`a`, `-3`), a page 0, or a descending range (`3-1`)
 */
export function parsePageRange(spec: string): PageRange {
  const text = spec.trim();
  if (text === "") throw new RangeError("invalid page range: it is empty (expected e.g. 1-3,7,10-)");
  const intervals: PageInterval[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") throw new RangeError(`invalid page range "${text}": empty item between commas`);
    const m = ITEM.exec(item);
    if (!m) {
      throw new RangeError(
        `invalid page range "${text}": "${item}" is not a page number or range (expected N, N-M or N-)`,
      );
    }
    const from = pageNumber(m[1], text);
    if (!m[2]) {
      intervals.push({ from, to: from });
    } else if (!m[3]) {
      intervals.push({ from, to: null });
    } else {
      const to = pageNumber(m[3], text);
      if (to < from)
        throw new RangeError(`invalid page range "${text}": "${item}" goes backwards (write ${to}-${from})`);
      intervals.push({ from, to });
    }
  }
  return { spec: text, intervals };
}

/**
 * The pages of a `pageCount`-page document that `range` selects.
 *
 * @param range - a parsed range, or undefined for every page
 * @param pageCount - number of pages of the document (a non-negative integer)
 * @returns 1-based page numbers, ascending, without duplicates; requested pages above
 *   `pageCount` are left out (see {@link pagesBeyondCount}); may be empty
 * @throws RangeError when `pageCount` is not a non-negative integer
 */
export function selectPages(range: PageRange | undefined, pageCount: number): number[] {
  if (!Number.isSafeInteger(pageCount) || pageCount < 0) {
    throw new RangeError(`page count must be a non-negative integer, got ${pageCount}`);
  }
  if (!range) return Array.from({ length: pageCount }, (_, i) => i + 1);
  const chosen = new Uint8Array(pageCount + 1);
  for (const { from, to } of range.intervals) {
    const last = Math.min(to ?? pageCount, pageCount);
    for (let p = from; p <= last; p++) chosen[p] = 1;
  }
  const pages: number[] = [];
  for (let p = 1; p <= pageCount; p++) if (chosen[p]) pages.push(p);
  return pages;
}

/**
 * The parts of `range` that ask for pages a `pageCount`-page document does not have, written
 * like the range itself, for a warning such as "pages 9-12, 20 do not exist (5 pages)".
 * An open item `N-` with N > pageCount counts as missing ("N-"); one with N <= pageCount does not.
 *
 * @param range - a parsed range
 * @param pageCount - number of pages of the document (a non-negative integer)
 * @returns the missing parts in the order written, e.g. `["9-12", "20"]`; empty when every requested page exists
 * @throws RangeError when `pageCount` is not a non-negative integer
 */
export function pagesBeyondCount(range: PageRange, pageCount: number): string[] {
  if (!Number.isSafeInteger(pageCount) || pageCount < 0) {
    throw new RangeError(`page count must be a non-negative integer, got ${pageCount}`);
  }
  const out: string[] = [];
  for (const { from, to } of range.intervals) {
    if (to === null) {
      if (from > pageCount) out.push(`${from}-`);
      continue;
    }
    if (to <= pageCount) continue;
    const first = Math.max(from, pageCount + 1);
    out.push(first === to ? `${to}` : `${first}-${to}`);
  }
  return out;
}
