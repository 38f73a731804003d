/**
 * PDF layer: open PDFs and render their pages to RGB images with PDFium (WebAssembly).
 *
 * Source: ../shared/spec/deepseek-ocr.md section 3.1 (PDF pages) and 9.2 (PDF pipeline).
 */
export { openPdf, pixelSize } from "./document.ts";
export { PdfError, type PdfErrorCode } from "./errors.ts";
export { getPdfium, pdfiumWasmPath, resetPdfium } from "./pdfium.ts";
export {
  DEFAULT_DPI,
  DEFAULT_MAX_PIXELS,
  type OpenPdfOptions,
  type PageSize,
  type PdfDocument,
  type RenderOptions,
  type RgbImage,
} from "./types.ts";
