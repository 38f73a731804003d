/**
 * The outputs of one document, written incrementally (spec 9.2, adapted):
 *
 * - `<name>.md`: clean markdown, pages joined with the official page-split marker; image spans
 *   become links to crops, `![](images/<name>/<page>_<i>.png)`; a failed page is an HTML comment;
 * - `<name>.det.md`: the raw output with its grounding spans, joined the same way;
 * - `<name>.json`: see document.ts and schema/document.schema.json;
 * - `images/<name>/<page>_<i>.png`: the crops (crops.ts), written as pages arrive;
 * - `<name>.layout.pdf` (optional): the pages with their boxes (layout-pdf.ts), written once the
 *   document is complete.
 *
 * Every file is written atomically (temp file + rename), so an interrupted run leaves the
 * previous version or the new one, and a `flush(false)` after each page leaves a consistent
 * partial document marked `"complete": false`.
 */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { RgbImage } from "../preprocess/image.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { writePageCrops } from "./crops.ts";
import {
  type DocumentMeta,
  type DocumentRecord,
  documentRecord,
  failedPageRecord,
  isDocumentRecord,
  type PageRecord,
  pageRecord,
} from "./document.ts";
import type { PageResult } from "./engine.ts";
import { parseGrounding } from "./grounding.ts";
import { encodePageJpeg, type LayoutPage, renderLayoutPdf } from "./layout-pdf.ts";
import { joinPages } from "./markdown.ts";

/** Options of {@link DocumentWriter}. */
export interface DocumentWriterOptions {
  /** Write `<name>.layout.pdf` when the document is complete (keeps a JPEG of every page in memory). */
  layout: boolean;
  /**
   * Resolution of the page images in dpi, for the layout PDF's page size (W * 72 / dpi points):
   * pass the render dpi of a PDF input to get its original page sizes. Default 72 (1 px = 1 pt).
   */
  layoutDpi?: number;
}

/** Size of a layout page whose size is unknown (a failed page with no other page to copy): A4 at 72 dpi. */
const FALLBACK_SIZE = { width: 595, height: 842 };

/**
 * Writes one document's outputs (see the module comment). Pages may arrive in any order and
 * concurrently; files always list them sorted by page number. A page added twice replaces the
 * earlier record.
 */
export class DocumentWriter {
  readonly outDir: string;
  readonly name: string;
  readonly meta: DocumentMeta;
  readonly options: Readonly<DocumentWriterOptions>;
  private readonly pages = new Map<number, PageRecord>();
  private readonly jpegs = new Map<number, Promise<Uint8Array>>();
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param outDir output directory (created by the first write when missing).
   * @param name the document's output name, e.g. `outputName(input)`: a single path segment.
   * @param meta the document's provenance; `page_count` is the number of pages in the input.
   * @param opts whether to write the layout PDF, and at which resolution the pages are.
   * @throws RangeError when `name` is empty, `.`/`..` or contains a path separator or NUL, or
   *   `meta.page_count` is not a non-negative integer.
   */
  constructor(outDir: string, name: string, meta: DocumentMeta, opts: DocumentWriterOptions) {
    if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) {
      throw new RangeError(`document name must be a single path segment, got ${JSON.stringify(name)}`);
    }
    if (!Number.isInteger(meta.page_count) || meta.page_count < 0) {
      throw new RangeError(`page_count must be a non-negative integer, got ${meta.page_count}`);
    }
    this.outDir = outDir;
    this.name = name;
    this.meta = meta;
    this.options = { ...opts };
  }

  /** Paths of the document's files: markdown, raw markdown, JSON, layout PDF. */
  get paths(): { md: string; det: string; json: string; layout: string } {
    const base = join(this.outDir, this.name);
    return { md: `${base}.md`, det: `${base}.det.md`, json: `${base}.json`, layout: `${base}.layout.pdf` };
  }

  /**
   * Adds a recognised page: writes the crops of its `image` boxes (crops.ts) and records the page
   * with its markdown, where the i-th image box links to its crop.
   *
   * @param image the page image the model saw (pixels; the crops come from it).
   * @param page 1-based page number.
   * @param result the engine's result for the page.
   * @param extra `retried`: the result is a second attempt.
   * @returns the page's record.
   * @throws RangeError for a bad page number or when `image` and `result.image` differ in size;
   *   file-system and image-encoding errors from writing the crops (the page is then not added).
   */
  async addPage(
    image: RgbImage,
    page: number,
    result: PageResult,
    extra: { retried?: boolean } = {},
  ): Promise<PageRecord> {
    this.checkPage(page);
    if (image.width !== result.image.width || image.height !== result.image.height) {
      throw new RangeError(
        `page ${page}: image is ${image.width}x${image.height} but the result is for ${result.image.width}x${result.image.height}`,
      );
    }
    const images = await writePageCrops(this.outDir, this.name, page, image, parseGrounding(result.raw).blocks);
    const record = pageRecord(page, result, { retried: extra.retried, images });
    this.setPage(record, image);
    return record;
  }

  /**
   * Adds a page reused from a previous run (`--resume`): its record is kept as it is (its crops
   * are already on disk).
   *
   * @param record the page's record from {@link DocumentWriter.readExisting}.
   * @param image the page image, for the layout PDF; without it that page of the layout PDF is
   *   white with the boxes only.
   * @throws RangeError for a bad page number.
   */
  addExisting(record: PageRecord, image?: RgbImage): void {
    this.checkPage(record.page);
    this.setPage(record, image);
  }

  /**
   * Adds a page that failed (render or recognition error): it is in the JSON with `error`, in the
   * markdown files as an HTML comment saying so, and in the layout PDF as a page with the message.
   *
   * @param page 1-based page number.
   * @param error what went wrong (one line is best).
   * @throws RangeError for a bad page number.
   */
  addFailed(page: number, error: string): void {
    this.checkPage(page);
    this.setPage(failedPageRecord(page, error));
  }

  /** The pages recorded so far, sorted by page number. */
  records(): PageRecord[] {
    return [...this.pages.values()].sort((a, b) => a.page - b.page);
  }

  /**
   * The document's JSON record as it stands.
   * @param complete value of `complete`.
   */
  toRecord(complete: boolean): DocumentRecord {
    return documentRecord(this.meta, this.pages.values(), complete);
  }

  /**
   * Writes the document's files atomically, pages sorted by page number: `<name>.md`,
   * `<name>.det.md`, `<name>.json` and, when the layout option is on and `complete` is true,
   * `<name>.layout.pdf`. Flushes run one after the other in call order, each writing the pages
   * recorded when it starts, so the last call's state is what stays on disk.
   *
   * @param complete whether all pages are in (the JSON's `complete`).
   * @returns the paths written.
   * @throws file-system errors (earlier files of this flush may have been replaced already; each
   *   file is either old or new), and image/PDF encoding errors for the layout PDF.
   */
  flush(complete: boolean): Promise<string[]> {
    const run = this.queue.then(() => this.write(complete));
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Reads `<outDir>/<name>.json` of a previous run.
   *
   * @returns the record, or null when the file is missing, unreadable, not JSON or not shaped
   *   like a document record of this schema version (`isDocumentRecord`).
   */
  static readExisting(outDir: string, name: string): DocumentRecord | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(join(outDir, `${name}.json`), "utf8"));
    } catch {
      return null;
    }
    return isDocumentRecord(parsed) ? parsed : null;
  }

  private checkPage(page: number): void {
    if (!Number.isInteger(page) || page < 1 || page > this.meta.page_count) {
      throw new RangeError(`page must be an integer in 1..${this.meta.page_count}, got ${page}`);
    }
  }

  private setPage(record: PageRecord, image?: RgbImage): void {
    this.pages.set(record.page, record);
    this.jpegs.delete(record.page);
    if (image && this.options.layout) {
      const jpeg = encodePageJpeg(image);
      jpeg.catch(() => {}); // reported by the flush that needs it
      this.jpegs.set(record.page, jpeg);
    }
  }

  private async write(complete: boolean): Promise<string[]> {
    const pages = this.records();
    const paths = this.paths;
    const record = documentRecord(this.meta, pages, complete);
    await mkdir(this.outDir, { recursive: true });
    await writeFileAtomic(paths.md, joinPages(pages.map((p) => p.markdown)));
    await writeFileAtomic(paths.det, joinPages(pages.map((p) => (p.error !== undefined ? p.markdown : p.raw))));
    await writeFileAtomic(paths.json, `${JSON.stringify(record, null, 2)}\n`);
    const written = [paths.md, paths.det, paths.json];
    if (this.options.layout && complete) {
      await writeFileAtomic(paths.layout, await this.layoutPdf(pages));
      written.push(paths.layout);
    }
    return written;
  }

  private async layoutPdf(pages: PageRecord[]): Promise<Uint8Array> {
    const layoutPages: LayoutPage[] = [];
    let last = pages.find((p) => p.width > 0 && p.height > 0) ?? FALLBACK_SIZE;
    for (const p of pages) {
      const known = p.width > 0 && p.height > 0;
      const size = known ? p : last;
      if (known) last = p;
      layoutPages.push({
        width: size.width,
        height: size.height,
        jpeg: await this.jpegs.get(p.page),
        blocks: p.blocks,
        note: p.error !== undefined ? `page ${p.page} failed: ${p.error}` : undefined,
      });
    }
    return renderLayoutPdf(layoutPages, { dpi: this.options.layoutDpi, title: this.name });
  }
}
