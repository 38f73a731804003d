/**
 * Opening and rendering PDFs with PDFium (WebAssembly).
 *
 * Reproduces the official PDF flow's rendering step (../shared/spec/deepseek-ocr.md section 3.1):
 * PyMuPDF `page.get_pixmap(matrix=fitz.Matrix(z, z), alpha=False)` with z = dpi / 72, dpi = 144,
 * which draws the page on white, applies `/Rotate`, and draws annotations and form widgets.
 * The renderer differs (PDFium instead of MuPDF), so anti-aliasing and font rasterisation differ
 * in the last bits; the pixel size is reproduced exactly (see {@link pixelSize}).
 *
 * Every WebAssembly allocation (the file bytes, the page, the bitmap, the form environment) is
 * released on every path, errors included.
 */
import { readFile } from "node:fs/promises";
import { PdfError } from "./errors.ts";
import { getPdfium, type Pdfium, resetPdfium } from "./pdfium.ts";
import {
  DEFAULT_DPI,
  DEFAULT_MAX_PIXELS,
  type OpenPdfOptions,
  type PageSize,
  type PdfDocument,
  type RenderOptions,
  type RgbImage,
} from "./types.ts";

// FPDF_GetLastError() codes (fpdfview.h).
const FPDF_ERR_SUCCESS = 0;
const FPDF_ERR_UNKNOWN = 1;
const FPDF_ERR_FILE = 2;
const FPDF_ERR_FORMAT = 3;
const FPDF_ERR_PASSWORD = 4;
const FPDF_ERR_SECURITY = 5;
const FPDF_ERR_PAGE = 6;

// Render flags (fpdfview.h): FPDF_ANNOT draws annotations that are not form widgets; the widgets
// are drawn by FPDF_FFLDraw through the form-fill environment (as pdfium_test does).
const FPDF_ANNOT = 0x01;
const RENDER_FLAGS = FPDF_ANNOT;
// FPDFBitmap_BGR: 3 bytes per pixel, B G R.
const FPDFBITMAP_BGR = 2;
// How far into the file PDFium looks for the "%PDF" header (CPDF_Parser).
const HEADER_SEARCH_BYTES = 1024;

/**
 * Pixel size of a page rendered by PyMuPDF `get_pixmap(matrix=Matrix(z, z))`, z = dpi / 72.
 *
 * MuPDF transforms the page rectangle in float32 and rounds it outward with a tolerance:
 * `fz_round_rect`: x1 = ceilf(x1 - 0.001f) (MuPDF source/fitz/geometry.c, used by PyMuPDF's
 * `JM_pixmap_from_display_list`). So an A4 page (595.276 x 841.89 pt) at 144 dpi is 1191 x 1684
 * pixels, and a 272.13 pt side is 545 pixels (a plain round would give 544).
 *
 * @param widthPt page width in points (after /Rotate).
 * @param heightPt page height in points (after /Rotate).
 * @param dpi resolution in dots per inch (default 144).
 * @returns width and height in pixels (0 for a degenerate page side; may exceed any sane limit
 *   for a damaged page: check before allocating).
 * @throws RangeError when dpi is not a finite number > 0.
 */
export function pixelSize(
  widthPt: number,
  heightPt: number,
  dpi: number = DEFAULT_DPI,
): { width: number; height: number } {
  checkDpi(dpi);
  const f = Math.fround;
  const z = f(dpi / 72);
  const eps = f(0.001);
  const side = (pt: number) => {
    const v = Math.ceil(f(f(f(pt) * z) - eps));
    return Number.isFinite(v) && v > 0 ? v : 0;
  };
  return { width: side(widthPt), height: side(heightPt) };
}

/**
 * Opens a PDF with PDFium. The file is read into WebAssembly memory and stays there until
 * {@link PdfDocument.close}.
 *
 * @param input a file path, or the file's bytes (not retained: they are copied).
 * @param opts `password` (user or owner password of an encrypted file), `name` for messages.
 * @returns an open document with at least one page.
 * @throws PdfError with a one-line message starting with the file name, and code:
 *   `"io"` (unreadable path), `"empty"` (0 bytes), `"not-pdf"` (no `%PDF` header in the first
 *   1024 bytes), `"corrupt"` (PDFium: not in PDF format or corrupted; truncated files and broken
 *   xrefs that PDFium cannot repair), `"password"` (a user password is required, or the given
 *   one is wrong), `"security"` (unsupported encryption), `"no-pages"` (zero pages),
 *   `"out-of-memory"` (the file does not fit the 2 GB WASM heap), `"unknown"`.
 */
export async function openPdf(input: string | Uint8Array, opts: OpenPdfOptions = {}): Promise<PdfDocument> {
  const name = opts.name ?? (typeof input === "string" ? input : "<memory>");
  let bytes: Uint8Array;
  if (typeof input === "string") {
    try {
      bytes = await readFile(input);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === "ENOENT" ? "file not found" : err.code === "EISDIR" ? "is a directory" : err.message;
      throw new PdfError(name, "io", `cannot read the file (${why})`);
    }
  } else {
    bytes = input;
  }
  if (bytes.length === 0) throw new PdfError(name, "empty", "empty file (0 bytes)");
  if (!hasPdfHeader(bytes)) throw new PdfError(name, "not-pdf", "not a PDF file (no %PDF header)");

  const m = await getPdfium();
  return guard(name, () => {
    const filePtr = m.rt.wasmExports.malloc(bytes.length);
    if (!filePtr) {
      throw new PdfError(name, "out-of-memory", `file too large to load (${bytes.length} bytes)`);
    }
    let doc = 0;
    let formInfo = 0;
    let form = 0;
    let ok = false;
    try {
      m.rt.HEAPU8.set(bytes, filePtr);
      doc = m.FPDF_LoadMemDocument(filePtr, bytes.length, opts.password ?? "");
      if (!doc) throw loadError(name, m.FPDF_GetLastError(), opts.password !== undefined && opts.password !== "");
      const pageCount = m.FPDF_GetPageCount(doc);
      if (pageCount <= 0) throw new PdfError(name, "no-pages", "the PDF has no pages");
      // Form-fill environment, so that FPDF_FFLDraw draws the widgets (field values, check
      // boxes) as PyMuPDF does. No JavaScript platform: document scripts never run.
      formInfo = m.PDFiumExt_OpenFormFillInfo();
      if (formInfo) form = m.PDFiumExt_InitFormFillEnvironment(doc, formInfo);
      if (form) m.FPDF_RemoveFormFieldHighlight(form);
      const result = new PdfiumDocument(m, name, filePtr, doc, formInfo, form, pageCount);
      ok = true; // the document object owns every allocation from here on
      return result;
    } finally {
      if (!ok) {
        if (form) cleanup(() => m.PDFiumExt_ExitFormFillEnvironment(form));
        if (formInfo) cleanup(() => m.PDFiumExt_CloseFormFillInfo(formInfo));
        if (doc) cleanup(() => m.FPDF_CloseDocument(doc));
        cleanup(() => m.rt.wasmExports.free(filePtr));
      }
    }
  });
}

class PdfiumDocument implements PdfDocument {
  readonly name: string;
  readonly pageCount: number;
  private readonly m: Pdfium;
  private filePtr: number;
  private doc: number;
  private formInfo: number;
  private form: number;
  private readonly sizes = new Map<number, PageSize>();

  constructor(m: Pdfium, name: string, filePtr: number, doc: number, formInfo: number, form: number, pages: number) {
    this.m = m;
    this.name = name;
    this.filePtr = filePtr;
    this.doc = doc;
    this.formInfo = formInfo;
    this.form = form;
    this.pageCount = pages;
  }

  pageSize(index: number): PageSize {
    this.checkOpen();
    this.checkIndex(index);
    const cached = this.sizes.get(index);
    if (cached) return { ...cached };
    const m = this.m;
    const size = guard(this.name, () => {
      const p = m.rt.wasmExports.malloc(8);
      if (!p) throw new PdfError(this.name, "out-of-memory", "out of WebAssembly memory");
      try {
        // FS_SIZEF {float width; float height}, after /Rotate.
        if (!m.FPDF_GetPageSizeByIndexF(this.doc, index, p)) {
          throw new PdfError(this.name, "page", `cannot read the size of page ${index + 1}`, m.FPDF_GetLastError());
        }
        const f32 = m.rt.HEAPF32;
        return { width: f32[p >> 2], height: f32[(p >> 2) + 1] };
      } finally {
        m.rt.wasmExports.free(p);
      }
    });
    this.sizes.set(index, size);
    return { ...size };
  }

  renderSize(index: number, dpi: number = DEFAULT_DPI): { width: number; height: number } {
    checkDpi(dpi);
    const s = this.pageSize(index);
    return pixelSize(s.width, s.height, dpi);
  }

  async renderPage(index: number, opts: RenderOptions = {}): Promise<RgbImage> {
    const dpi = opts.dpi ?? DEFAULT_DPI;
    const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
    checkDpi(dpi);
    if (!(maxPixels > 0)) throw new RangeError(`maxPixels must be > 0, got ${maxPixels}`);
    const pt = this.pageSize(index);
    const { width, height } = pixelSize(pt.width, pt.height, dpi);
    const where = `page ${index + 1} (${fmt(pt.width)} x ${fmt(pt.height)} pt)`;
    if (width < 1 || height < 1) {
      throw new PdfError(this.name, "page", `${where} has an empty size at ${dpi} dpi`);
    }
    if (width * height > maxPixels) {
      throw new PdfError(this.name, "page-too-large", tooLarge(where, width, height, dpi, pt, maxPixels));
    }
    const m = this.m;
    return guard(this.name, () => {
      const page = m.FPDF_LoadPage(this.doc, index);
      if (!page) {
        const code = m.FPDF_GetLastError();
        throw new PdfError(this.name, "page", `cannot load page ${index + 1} (${pdfiumErrorText(code)})`, code);
      }
      try {
        if (this.form) m.FORM_OnAfterLoadPage(page, this.form);
        try {
          const bmp = m.FPDFBitmap_CreateEx(width, height, FPDFBITMAP_BGR, 0, 0);
          if (!bmp) {
            throw new PdfError(
              this.name,
              "out-of-memory",
              `cannot allocate a ${width} x ${height} bitmap for page ${index + 1}`,
            );
          }
          try {
            m.FPDFBitmap_FillRect(bmp, 0, 0, width, height, 0xffffffff);
            m.FPDF_RenderPageBitmap(bmp, page, 0, 0, width, height, 0, RENDER_FLAGS);
            if (this.form) m.FPDF_FFLDraw(this.form, bmp, page, 0, 0, width, height, 0, RENDER_FLAGS);
            return copyBgrToRgb(m, bmp, width, height);
          } finally {
            m.FPDFBitmap_Destroy(bmp);
          }
        } finally {
          if (this.form) m.FORM_OnBeforeClosePage(page, this.form);
        }
      } finally {
        m.FPDF_ClosePage(page);
      }
    });
  }

  close(): void {
    if (!this.doc) return;
    const { m, doc, form, formInfo, filePtr } = this;
    this.doc = 0;
    this.form = 0;
    this.formInfo = 0;
    this.filePtr = 0;
    cleanup(() => {
      if (form) m.PDFiumExt_ExitFormFillEnvironment(form);
      if (formInfo) m.PDFiumExt_CloseFormFillInfo(formInfo);
    });
    cleanup(() => m.FPDF_CloseDocument(doc));
    cleanup(() => m.rt.wasmExports.free(filePtr));
  }

  private checkOpen(): void {
    if (!this.doc) throw new PdfError(this.name, "closed", "the document is closed");
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pageCount) {
      throw new RangeError(`${this.name}: page index ${index} out of range [0, ${this.pageCount})`);
    }
  }
}

/** Copies a BGR PDFium bitmap (rows may be padded to `stride`) into a tight RGB image. */
function copyBgrToRgb(m: Pdfium, bmp: number, width: number, height: number): RgbImage {
  const stride = m.FPDFBitmap_GetStride(bmp);
  const buf = m.FPDFBitmap_GetBuffer(bmp);
  const heap = m.rt.HEAPU8; // read after rendering: the heap may have grown
  const out = new Uint8Array(width * height * 3);
  const rowBytes = width * 3;
  for (let y = 0; y < height; y++) {
    const src = heap.subarray(buf + y * stride, buf + y * stride + rowBytes);
    const o = y * rowBytes;
    for (let x = 0; x < rowBytes; x += 3) {
      out[o + x] = src[x + 2];
      out[o + x + 1] = src[x + 1];
      out[o + x + 2] = src[x];
    }
  }
  return { width, height, data: out };
}

function hasPdfHeader(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, HEADER_SEARCH_BYTES) - 4;
  for (let i = 0; i <= n; i++) {
    // "%PDF"
    if (bytes[i] === 0x25 && bytes[i + 1] === 0x50 && bytes[i + 2] === 0x44 && bytes[i + 3] === 0x46) return true;
  }
  return false;
}

function loadError(name: string, code: number, passwordGiven: boolean): PdfError {
  switch (code) {
    case FPDF_ERR_PASSWORD:
      return passwordGiven
        ? new PdfError(name, "password", "incorrect password", code)
        : new PdfError(name, "password", "password required (the PDF is encrypted; pass --password)", code);
    case FPDF_ERR_SECURITY:
      return new PdfError(name, "security", "unsupported encryption or security handler", code);
    case FPDF_ERR_FORMAT:
      return new PdfError(
        name,
        "corrupt",
        "damaged or truncated PDF (PDFium: file not in PDF format or corrupted)",
        code,
      );
    case FPDF_ERR_FILE:
      return new PdfError(name, "corrupt", "cannot read the PDF data (PDFium: file error)", code);
    case FPDF_ERR_PAGE:
      return new PdfError(name, "corrupt", "damaged PDF (PDFium: page not found or content error)", code);
    default:
      return new PdfError(name, "unknown", `cannot open the PDF (${pdfiumErrorText(code)})`, code);
  }
}

function pdfiumErrorText(code: number): string {
  switch (code) {
    case FPDF_ERR_SUCCESS:
      return "PDFium reported no error code";
    case FPDF_ERR_UNKNOWN:
      return "PDFium: unknown error";
    case FPDF_ERR_FILE:
      return "PDFium: file error";
    case FPDF_ERR_FORMAT:
      return "PDFium: not in PDF format or corrupted";
    case FPDF_ERR_PASSWORD:
      return "PDFium: password required";
    case FPDF_ERR_SECURITY:
      return "PDFium: unsupported security scheme";
    case FPDF_ERR_PAGE:
      return "PDFium: page not found or content error";
    default:
      return `PDFium error ${code}`;
  }
}

function tooLarge(where: string, width: number, height: number, dpi: number, pt: PageSize, maxPixels: number): string {
  const base = `${where} is too large to render: ${width} x ${height} px at ${dpi} dpi exceeds the ${fmt(maxPixels / 1e6)} Mpx limit`;
  // Largest dpi that fits, approximately (pixel size ~ pt * dpi / 72).
  const fit = Math.floor(72 * Math.sqrt(maxPixels / (pt.width * pt.height)));
  return fit >= 1 ? `${base}; use a lower --dpi (at most ${fit})` : `${base} at any useful --dpi (damaged page size?)`;
}

function fmt(x: number): string {
  return String(Number(x.toFixed(2)));
}

function checkDpi(dpi: number): void {
  if (typeof dpi !== "number" || !Number.isFinite(dpi) || dpi <= 0) {
    throw new RangeError(`dpi must be a finite number > 0, got ${dpi}`);
  }
}

// `WebAssembly` is not in this project's TS lib (ES2023 without DOM); it exists at run time.
const WasmRuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } }).WebAssembly
  .RuntimeError;

/**
 * Runs PDFium calls; a WASM abort (RuntimeError) leaves the instance unusable, so it is reset
 * and reported as a PdfError instead of surfacing as an opaque crash.
 */
function guard<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof WasmRuntimeError) {
      resetPdfium();
      throw new PdfError(name, "unknown", `PDFium crashed (${e.message.split("\n")[0]})`);
    }
    throw e;
  }
}

/** Runs a release step; a failure (only possible after a WASM abort) must not mask the real error. */
function cleanup(fn: () => void): void {
  try {
    fn();
  } catch {
    // the instance is dead; nothing left to free
  }
}
