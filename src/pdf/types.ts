/**
 * Public types of the PDF layer (`src/pdf/`). Errors are in `errors.ts`.
 *
 * Source: ../shared/spec/deepseek-ocr.md section 3.1 (PDF pages are rendered with
 * PyMuPDF `page.get_pixmap(matrix=Matrix(z, z), alpha=False)`, z = dpi / 72, dpi = 144).
 */
import type { RgbImage } from "../preprocess/image.ts";

/** The RGB image type of the preprocessing layer (`width * height * 3` bytes, R G B interleaved). */
export type { RgbImage };

/** A page size in PDF points (1/72 inch), after the page's `/Rotate` has been applied. */
export interface PageSize {
  /** Width in points, as displayed (a `/Rotate 90` page has its MediaBox height here). */
  width: number;
  /** Height in points, as displayed. */
  height: number;
}

/** Options of `openPdf`. */
export interface OpenPdfOptions {
  /** Password of an encrypted PDF (user or owner password). Default: none (empty). */
  password?: string;
  /**
   * Name used in error messages. Default: the path when the input is a path, else `"<memory>"`.
   */
  name?: string;
}

/** Options of {@link PdfDocument.renderPage}. */
export interface RenderOptions {
  /** Resolution in dots per inch; the scale is dpi / 72 pixels per point. Default 144 (spec 3.1). */
  dpi?: number;
  /**
   * Largest bitmap allowed, in pixels (width * height). A page whose pixel size at `dpi` is
   * larger is refused with a `PdfError` of code `"page-too-large"` before any memory is
   * allocated. Default {@link DEFAULT_MAX_PIXELS} (100 Mpx).
   */
  maxPixels?: number;
}

/** An open PDF. Obtain one with `openPdf`; call {@link PdfDocument.close} when done. */
export interface PdfDocument {
  /** Display name used in error messages (the path, or the `name` option). */
  readonly name: string;
  /** Number of pages (always >= 1: a document without pages is refused by `openPdf`). */
  readonly pageCount: number;
  /**
   * Size of page `index` (0-based) in points, after `/Rotate`.
   * @throws RangeError when `index` is not an integer in `[0, pageCount)`.
   * @throws PdfError (code `"page"`) when PDFium cannot read the page, or `"closed"` after close().
   */
  pageSize(index: number): PageSize;
  /**
   * Pixel size page `index` would have at `dpi` (PyMuPDF's rounding, see `pixelSize`).
   * @throws the same errors as {@link PdfDocument.pageSize}, and RangeError for a bad `dpi`.
   */
  renderSize(index: number, dpi?: number): { width: number; height: number };
  /**
   * Renders page `index` (0-based) like PyMuPDF `get_pixmap(matrix=Matrix(dpi/72, dpi/72), alpha=False)`:
   * white background, no alpha, `/Rotate` applied, annotations and form-field widgets drawn.
   * Pixel size = `pixelSize` of {@link PdfDocument.pageSize} at `dpi`.
   * @throws RangeError for a bad index or dpi.
   * @throws PdfError: `"page-too-large"` (over `maxPixels`), `"page"` (PDFium cannot load the
   *   page), `"out-of-memory"` (the bitmap could not be allocated), `"closed"`.
   */
  renderPage(index: number, opts?: RenderOptions): Promise<RgbImage>;
  /** Frees the document and its WebAssembly memory. Idempotent. */
  close(): void;
}

/** Default cap of {@link RenderOptions.maxPixels}: 100 million pixels (300 MB of RGB). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Default render resolution (spec 3.1: the official PDF script renders at 144 dpi). */
export const DEFAULT_DPI = 144;
