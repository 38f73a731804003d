/**
 * Input documents as page sources: a PDF (rendered with PDFium at a dpi, spec 3.1), a multi-page
 * TIFF (every page), or one image (GIF/WebP: the first frame).
 */
import { open } from "node:fs/promises";
import { extname } from "node:path";
import { openPdf } from "../pdf/document.ts";
import { decodeImage, probeImage } from "../preprocess/decode.ts";
import type { RgbImage } from "../preprocess/image.ts";

/** Pages of one input file. */
export interface PageSource {
  readonly path: string;
  readonly kind: "pdf" | "image";
  readonly pageCount: number;
  /** Page `index` (0-based) as RGB. @throws PdfError / ImageDecodeError naming the file */
  page(index: number): Promise<RgbImage>;
  close(): void;
}

async function looksLikePdf(path: string): Promise<boolean> {
  if (extname(path).toLowerCase() === ".pdf") return true;
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead).includes("%PDF-");
  } finally {
    await fh.close();
  }
}

/**
 * Opens an input: PDFs by extension or by the `%PDF-` signature, everything else as an image.
 * @param dpi PDF render resolution (dots per inch).
 * @throws PdfError, ImageDecodeError or a file-system error, each naming the file
 */
export async function openInput(path: string, dpi: number): Promise<PageSource> {
  if (await looksLikePdf(path)) {
    const doc = await openPdf(path);
    return {
      path,
      kind: "pdf",
      pageCount: doc.pageCount,
      page: (i) => doc.renderPage(i, { dpi }),
      close: () => doc.close(),
    };
  }
  const probe = await probeImage(path);
  const pageCount = probe.format === "tiff" ? probe.frames : 1;
  return { path, kind: "image", pageCount, page: (i) => decodeImage(path, { page: i }), close() {} };
}
