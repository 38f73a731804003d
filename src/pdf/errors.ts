/**
 * Errors of the PDF layer.
 */

/** Why a PDF could not be opened or rendered. */
export type PdfErrorCode =
  | "io" // the file could not be read
  | "empty" // zero bytes
  | "not-pdf" // no %PDF- header in the first 1024 bytes
  | "corrupt" // PDFium: file not in PDF format or corrupted (truncated, broken xref, ...)
  | "password" // encrypted: a (correct) password is required
  | "security" // unsupported security handler
  | "no-pages" // the document has zero pages
  | "page" // a page could not be loaded
  | "page-too-large" // the page's pixel size exceeds the limit
  | "out-of-memory" // the bitmap could not be allocated
  | "closed" // the document was closed
  | "unknown"; // any other PDFium failure

/**
 * The one error class of the PDF layer. `message` is one line that starts with the file name,
 * e.g. `"scan.pdf: password required (the PDF is encrypted; pass --password)"`.
 */
export class PdfError extends Error {
  /** Machine-readable reason. */
  readonly code: PdfErrorCode;
  /** The file name (or `name` option) the error is about. */
  readonly file: string;
  /** PDFium's `FPDF_GetLastError()` value when the error came from PDFium, else undefined. */
  readonly pdfiumError?: number;

  /**
   * @param file file name to prefix the message with.
   * @param code machine-readable reason.
   * @param detail the rest of the one-line message.
   * @param pdfiumError PDFium's last-error code, when relevant.
   */
  constructor(file: string, code: PdfErrorCode, detail: string, pdfiumError?: number) {
    super(`${file}: ${detail}`);
    this.name = "PdfError";
    this.code = code;
    this.file = file;
    if (pdfiumError !== undefined) this.pdfiumError = pdfiumError;
  }
}
