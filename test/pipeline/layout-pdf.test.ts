/**
 * The layout PDF (spec 9.4 adapted): opened and rendered back with our PDFium reader, it has one
 * page per document page at the right size, the page image underneath, and labelled boxes with
 * their fixed colour, outline width and translucent fill on top.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openPdf } from "../../src/pdf/document.ts";
import type { DocumentMeta } from "../../src/pipeline/document.ts";
import { DocumentWriter } from "../../src/pipeline/document-writer.ts";
import {
  DEFAULT_LABEL_COLOR,
  encodePageJpeg,
  FILL_OPACITY,
  LABEL_COLORS,
  labelColor,
  outlineWidth,
  renderLayoutPdf,
} from "../../src/pipeline/layout-pdf.ts";
import { createRgbImage, type RgbImage } from "../../src/preprocess/image.ts";
import { tempDir } from "../helpers/paths.ts";
import { PAGE, pageResult, positionImage } from "./samples.ts";

const px = (img: RgbImage, x: number, y: number) => [
  ...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];
const near = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]) <= tol);
const to255 = (c: readonly number[]) => c.map((v) => Math.round(v * 255));

describe("labelColor / outlineWidth", () => {
  test("fixed colours per label, a default for the rest; 4 px for title, 2 otherwise", () => {
    assert.deepEqual(labelColor("title"), LABEL_COLORS.title);
    assert.notDeepEqual(labelColor("title"), labelColor("text"));
    assert.notDeepEqual(labelColor("table"), labelColor("image"));
    assert.deepEqual(labelColor("something_new"), DEFAULT_LABEL_COLOR);
    assert.deepEqual(labelColor(null), DEFAULT_LABEL_COLOR);
    assert.deepEqual(labelColor("constructor"), DEFAULT_LABEL_COLOR, "no prototype lookups");
    assert.equal(outlineWidth("title"), 4);
    assert.equal(outlineWidth("text"), 2);
    assert.equal(outlineWidth(null), 2);
  });
});

describe("renderLayoutPdf", () => {
  test("page image underneath, boxes drawn on top, sizes from the dpi", async () => {
    // a white 400x300 page with a black square at (300..340, 200..240)
    const img = createRgbImage(400, 300, [255, 255, 255]);
    for (let y = 200; y < 240; y++) img.data.fill(0, (y * 400 + 300) * 3, (y * 400 + 340) * 3);
    const pdfBytes = await renderLayoutPdf(
      [
        {
          width: 400,
          height: 300,
          jpeg: await encodePageJpeg(img),
          blocks: [
            { label: "title", boxes_px: [[40, 40, 360, 80]] },
            { label: "表格", boxes_px: [[40, 120, 200, 180]] }, // not WinAnsi: must not throw
          ],
        },
        { width: 200, height: 500, blocks: [], note: "page 2 failed: boom" },
      ],
      { title: "doc" },
    );
    const pdf = await openPdf(pdfBytes);
    try {
      assert.equal(pdf.pageCount, 2);
      assert.deepEqual(pdf.pageSize(0), { width: 400, height: 300 }, "72 dpi: 1 px = 1 pt");
      assert.deepEqual(pdf.pageSize(1), { width: 200, height: 500 });
      const page = await pdf.renderPage(0, { dpi: 72 });
      assert.deepEqual([page.width, page.height], [400, 300]);
      // the embedded page image
      assert.ok(near(px(page, 320, 220), [0, 0, 0], 24), `${px(page, 320, 220)}`);
      assert.ok(near(px(page, 10, 290), [255, 255, 255], 8), `${px(page, 10, 290)}`);
      // the title outline (4 px, centred on x = 40) in the title colour
      const title = to255(LABEL_COLORS.title);
      assert.ok(near(px(page, 40, 60), title, 40), `${px(page, 40, 60)} vs ${title}`);
      // inside: white tinted with alpha 20/255 of the colour
      const tint = title.map((c) => 255 - FILL_OPACITY * (255 - c));
      assert.ok(near(px(page, 200, 70), tint, 6), `${px(page, 200, 70)} vs ${tint}`);
      assert.ok(px(page, 200, 70)[1] < 250, "the fill is visible");
      // the second box has the default colour
      const def = to255(DEFAULT_LABEL_COLOR);
      assert.ok(near(px(page, 120, 180), def, 40), `${px(page, 120, 180)} vs ${def}`);
      // the label text sits in a white box above the box: some dark-ish (coloured) pixels there
      let inked = 0;
      for (let y = 26; y < 40; y++) for (let x = 40; x < 80; x++) if (px(page, x, y)[1] < 150) inked++;
      assert.ok(inked > 5, `label text pixels: ${inked}`);
    } finally {
      pdf.close();
    }
  });

  test("a render dpi gives the original page size in points", async () => {
    const bytes = await renderLayoutPdf([{ width: 1191, height: 1684, blocks: [] }], { dpi: 144 });
    const pdf = await openPdf(bytes);
    try {
      const s = pdf.pageSize(0);
      assert.ok(Math.abs(s.width - 595.5) < 0.01 && Math.abs(s.height - 842) < 0.01, JSON.stringify(s));
    } finally {
      pdf.close();
    }
    await assert.rejects(renderLayoutPdf([{ width: 0, height: 10, blocks: [] }]), RangeError);
    await assert.rejects(renderLayoutPdf([], { dpi: 0 }), RangeError);
  });
});

describe("DocumentWriter layout PDF", () => {
  test("one page per document page, failed pages included, at the page sizes", async () => {
    const out = tempDir();
    const meta: DocumentMeta = {
      input: "/in/scan.pdf",
      input_sha256: "0".repeat(64),
      model: "m",
      settings: {},
      settings_hash: "h",
      page_count: 3,
    };
    const w = new DocumentWriter(out, "scan", meta, { layout: true, layoutDpi: 144 });
    await w.addPage(positionImage(288, 144), 1, pageResult(PAGE, 288, 144));
    w.addFailed(2, "cannot render page 2");
    await w.addPage(positionImage(144, 432), 3, pageResult(PAGE, 144, 432));
    const written = await w.flush(true);
    assert.equal(written.at(-1), join(out, "scan.layout.pdf"));
    const pdf = await openPdf(join(out, "scan.layout.pdf"));
    try {
      assert.equal(pdf.pageCount, 3);
      assert.deepEqual(pdf.pageSize(0), { width: 144, height: 72 });
      assert.deepEqual(pdf.pageSize(1), { width: 144, height: 72 }, "a failed page takes the previous page's size");
      assert.deepEqual(pdf.pageSize(2), { width: 72, height: 216 });
    } finally {
      pdf.close();
    }
  });
});
