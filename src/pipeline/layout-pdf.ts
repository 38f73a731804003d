/**
 * `<name>.layout.pdf`: the document's pages with their layout boxes drawn on top, the counterpart
 * of the official `<name>_layouts.pdf` (spec 9.2, 9.4). Each page is embedded as a JPEG image
 * (quality 95, as the official script) and the boxes are drawn as vector graphics over it: a
 * rectangle outline (4 px for `title`, 2 px otherwise, spec 9.4), a translucent fill (alpha 20/255)
 * and the label in a white box above the top-left corner. Unlike the official random colours, each
 * label has a fixed colour ({@link labelColor}), so that layouts can be compared across pages and runs.
 */
import { PDFDocument, type PDFFont, type PDFPage, rgb, StandardFonts } from "pdf-lib";
import sharp from "sharp";
import type { RgbImage } from "../preprocess/image.ts";
import type { Box } from "./grounding.ts";

/** An RGB colour, each channel 0..1. */
export type Rgb = readonly [number, number, number];

/** Colours of the labels the model is known to emit (others get {@link DEFAULT_LABEL_COLOR}). */
export const LABEL_COLORS: Readonly<Record<string, Rgb>> = {
  title: [0.84, 0.11, 0.11],
  sub_title: [0.93, 0.42, 0.0],
  text: [0.1, 0.37, 0.85],
  table: [0.05, 0.58, 0.22],
  table_caption: [0.2, 0.7, 0.6],
  table_footnote: [0.3, 0.55, 0.45],
  image: [0.55, 0.16, 0.75],
  image_caption: [0.85, 0.2, 0.6],
  equation: [0.72, 0.52, 0.0],
  formula: [0.72, 0.52, 0.0],
  header: [0.45, 0.33, 0.2],
  footer: [0.45, 0.33, 0.2],
  page_number: [0.6, 0.45, 0.3],
  footnote: [0.35, 0.45, 0.55],
  reference: [0.0, 0.5, 0.6],
  list: [0.25, 0.25, 0.75],
};

/** Colour of labels not in {@link LABEL_COLORS} (and of boxes without a label). */
export const DEFAULT_LABEL_COLOR: Rgb = [0.4, 0.4, 0.4];

/** The fixed colour of a label (0..1 per channel). */
export function labelColor(label: string | null): Rgb {
  return label !== null && Object.hasOwn(LABEL_COLORS, label) ? LABEL_COLORS[label] : DEFAULT_LABEL_COLOR;
}

/** One page of a layout PDF. Sizes and boxes are in page pixels. */
export interface LayoutPage {
  /** Page width in pixels (> 0). */
  width: number;
  /** Page height in pixels (> 0). */
  height: number;
  /** The page image as JPEG (see {@link encodePageJpeg}); a white page when absent. */
  jpeg?: Uint8Array;
  /** Blocks to draw: label and boxes `[x1, y1, x2, y2]` in page pixels. */
  blocks: readonly { label: string | null; boxes_px: readonly Box[] }[];
  /** A line of text to print at the top of the page (e.g. why the page failed). */
  note?: string;
}

/** Options of {@link renderLayoutPdf}. */
export interface LayoutPdfOptions {
  /**
   * Resolution of the page images in dots per inch: a page of W pixels is W * 72 / dpi points
   * wide. Pass the PDF render dpi to get the original page sizes back. Default 72 (1 px = 1 pt).
   */
  dpi?: number;
  /** The PDF's title (document information). */
  title?: string;
}

/** Outline width in pixels (spec 9.4: 4 for `title`, 2 otherwise). */
export function outlineWidth(label: string | null): number {
  return label === "title" ? 4 : 2;
}

/** Fill opacity of the boxes (spec 9.4: alpha 20 of 255). */
export const FILL_OPACITY = 20 / 255;

/**
 * Encodes a page image as JPEG (quality 95 by default, as the official layout PDF).
 *
 * @param image the page.
 * @param quality JPEG quality 1..100.
 * @returns the JPEG bytes.
 * @throws Error from sharp (e.g. a bad quality).
 */
export async function encodePageJpeg(image: RgbImage, quality = 95): Promise<Uint8Array> {
  const data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return sharp(data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

// The label text: PIL's default font is about 11 px high; its box sits 15 px above the box (spec 9.4).
const LABEL_SIZE_PX = 11;
const LABEL_BOX_PX = 15;
const MAX_LABEL_CHARS = 40;

/** The standard fonts encode WinAnsi only: keep printable ASCII, replace the rest. */
function printable(s: string): string {
  const t = s.replace(/[^\x20-\x7e]/g, "?");
  return t.length > MAX_LABEL_CHARS ? `${t.slice(0, MAX_LABEL_CHARS - 3)}...` : t;
}

/**
 * Writes a layout PDF: one PDF page per entry of `pages`, in order, each `width * 72 / dpi` by
 * `height * 72 / dpi` points, with the page image and its boxes drawn as described in the module
 * comment. Boxes are clipped to the page.
 *
 * @param pages the pages (sizes in pixels, boxes in page pixels).
 * @param opts resolution of the page images and PDF title.
 * @returns the PDF bytes.
 * @throws RangeError for a page without a positive size or a bad dpi; Error from pdf-lib for a
 *   JPEG it cannot read.
 */
export async function renderLayoutPdf(pages: readonly LayoutPage[], opts: LayoutPdfOptions = {}): Promise<Uint8Array> {
  const dpi = opts.dpi ?? 72;
  if (!(dpi > 0) || !Number.isFinite(dpi)) throw new RangeError(`layout dpi must be a positive number, got ${dpi}`);
  const s = 72 / dpi;
  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.setProducer("dsocr");
  doc.setCreator("dsocr");
  if (opts.title !== undefined) doc.setTitle(printable(opts.title));
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const p of pages) {
    if (!(p.width > 0 && p.height > 0))
      throw new RangeError(`layout page size must be positive, got ${p.width}x${p.height}`);
    const page = doc.addPage([p.width * s, p.height * s]);
    if (p.jpeg) {
      const img = await doc.embedJpg(p.jpeg);
      page.drawImage(img, { x: 0, y: 0, width: p.width * s, height: p.height * s });
    }
    for (const b of p.blocks) for (const box of b.boxes_px) drawBox(page, font, p, s, b.label, box);
    if (p.note) {
      const size = 14 * s;
      page.drawText(printable(p.note), { x: 10 * s, y: (p.height - 24) * s, size, font, color: rgb(0.8, 0, 0) });
    }
  }
  return doc.save();
}

function drawBox(page: PDFPage, font: PDFFont, p: LayoutPage, s: number, label: string | null, box: Box): void {
  const clampX = (v: number) => Math.max(0, Math.min(p.width, v));
  const clampY = (v: number) => Math.max(0, Math.min(p.height, v));
  const x1 = clampX(Math.min(box[0], box[2]));
  const x2 = clampX(Math.max(box[0], box[2]));
  const y1 = clampY(Math.min(box[1], box[3]));
  const y2 = clampY(Math.max(box[1], box[3]));
  const [r, g, b] = labelColor(label);
  const color = rgb(r, g, b);
  // PDF y grows upwards: a pixel row y is at (height - y) points * s.
  page.drawRectangle({
    x: x1 * s,
    y: (p.height - y2) * s,
    width: (x2 - x1) * s,
    height: (y2 - y1) * s,
    color,
    opacity: FILL_OPACITY,
    borderColor: color,
    borderWidth: outlineWidth(label) * s,
    borderOpacity: 1,
  });
  if (label === null || label === "") return;
  const text = printable(label);
  const size = LABEL_SIZE_PX * s;
  const top = Math.max(0, y1 - LABEL_BOX_PX); // spec 9.4: (x1, max(0, y1 - 15))
  page.drawRectangle({
    x: x1 * s,
    y: (p.height - top - LABEL_BOX_PX) * s,
    width: font.widthOfTextAtSize(text, size) + 4 * s,
    height: LABEL_BOX_PX * s,
    color: rgb(1, 1, 1),
  });
  page.drawText(text, { x: (x1 + 2) * s, y: (p.height - top - 11) * s, size, font, color });
}
