/**
 * PDF layer against every PDF of the shared corpus (MANIFEST.json), plus unit tests of the
 * pixel-size rule and the error paths.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { getPdfium, openPdf, PdfError, type PdfErrorCode, pixelSize, type RgbImage } from "../../src/pdf/index.ts";
import { CORPUS, REPO } from "../helpers/paths.ts";

interface Entry {
  path: string;
  sha256: string;
  expected: string;
  pages: number | null;
  page1_size?: string;
}

const manifest = JSON.parse(readFileSync(join(CORPUS, "MANIFEST.json"), "utf8")) as { files: Entry[] };
const pdfs = manifest.files.filter((f) => f.path.startsWith("pdf/"));

/** Reads a corpus file and checks its sha256, so that a changed corpus fails loudly. */
function corpusBytes(e: Entry): Uint8Array {
  const bytes = readFileSync(join(CORPUS, e.path));
  assert.equal(createHash("sha256").update(bytes).digest("hex"), e.sha256, `${e.path}: sha256 differs from MANIFEST`);
  return bytes;
}

function byName(fragment: string): Entry {
  const e = pdfs.find((f) => f.path.includes(fragment));
  assert.ok(e, `no corpus entry matching ${fragment}`);
  return e;
}

/** Files whose page 1 carries /Rotate 90 (display size = MediaBox swapped). */
const ROTATED_PAGE1 = new Set(["pdf/rotate-90-180-270_arabic.pdf", "pdf/rotate90_skewed-scan.pdf"]);
/** Files that PDFium opens although they sit in pdf/bad/ (the MANIFEST says "ok"). */
const isOk = (e: Entry) => e.expected.startsWith("ok");
/** Render every page of documents up to this many pages; only page 1 of longer ones. */
const ALL_PAGES_UP_TO = 6;

function parseSize(s: string): [number, number] {
  const m = /^([\d.]+) x ([\d.]+) pts/.exec(s);
  assert.ok(m, `bad page1_size ${s}`);
  return [Number(m[1]), Number(m[2])];
}

async function rejectsPdf(p: Promise<unknown>, code: PdfErrorCode, file: string, re: RegExp): Promise<PdfError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PdfError, `expected PdfError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.startsWith(`${file}: `), `message should name the file: ${e.message}`);
    assert.ok(!e.message.includes("\n"), "message must be one line");
    assert.match(e.message, re);
    return e;
  }
  assert.fail(`${file}: expected PdfError ${code}, but it succeeded`);
}

function assertRgb(img: RgbImage, w: number, h: number, what: string): void {
  assert.equal(img.width, w, `${what}: width`);
  assert.equal(img.height, h, `${what}: height`);
  assert.ok(img.data instanceof Uint8Array);
  assert.equal(img.data.length, w * h * 3, `${what}: data length`);
}

describe("pixelSize (PyMuPDF fz_round_rect: ceil(x*z - 0.001) in float32)", () => {
  test("A4 at 144 dpi is 1191 x 1684", () => {
    assert.deepEqual(pixelSize(595.276, 841.89, 144), { width: 1191, height: 1684 });
    // the float32 values PDFium reports for the same page
    assert.deepEqual(pixelSize(595.2760009765625, 841.8900146484375), { width: 1191, height: 1684 });
  });
  test("letter, exact multiples are not rounded up", () => {
    assert.deepEqual(pixelSize(612, 792, 144), { width: 1224, height: 1584 });
    assert.deepEqual(pixelSize(612, 792, 72), { width: 612, height: 792 });
    assert.deepEqual(pixelSize(612, 792, 300), { width: 2550, height: 3300 });
  });
  test("fractions round up (272.13 pt -> 545 px, not 544)", () => {
    assert.deepEqual(pixelSize(362.83, 272.13, 144), { width: 726, height: 545 });
    assert.deepEqual(pixelSize(384, 470.88, 144), { width: 768, height: 942 });
    // within the 0.001 px tolerance: rounded down
    assert.deepEqual(pixelSize(100.0004, 100, 72), { width: 100, height: 100 });
  });
  test("degenerate and invalid input", () => {
    assert.deepEqual(pixelSize(0, 10, 144), { width: 0, height: 20 });
    assert.throws(() => pixelSize(10, 10, 0), RangeError);
    assert.throws(() => pixelSize(10, 10, Number.NaN), RangeError);
    assert.throws(() => pixelSize(10, 10, -72), RangeError);
  });
});

describe("corpus: PDFs that must open", () => {
  const good = pdfs.filter(isOk);
  test("the corpus lists the expected number of good PDFs", () => {
    // 15 in pdf/ plus broken-xref_viewers-open.pdf in pdf/bad/
    assert.equal(good.length, 16);
  });
  for (const e of good) {
    test(`${e.path}: opens with ${e.pages} pages and renders at 144 dpi`, { timeout: 60_000 }, async () => {
      const bytes = corpusBytes(e);
      const doc = await openPdf(join(CORPUS, e.path));
      try {
        assert.equal(doc.pageCount, e.pages);
        assert.equal(doc.name, join(CORPUS, e.path));
        // page 1 size against pdfinfo (which reports the MediaBox before /Rotate)
        const [w, h] = parseSize(e.page1_size ?? "");
        const s = doc.pageSize(0);
        const [ew, eh] = ROTATED_PAGE1.has(e.path) ? [h, w] : [w, h];
        assert.ok(
          Math.abs(s.width - ew) < 0.01 && Math.abs(s.height - eh) < 0.01,
          `page 1 size ${s.width} x ${s.height}`,
        );
        const n = doc.pageCount <= ALL_PAGES_UP_TO ? doc.pageCount : 1;
        for (let i = 0; i < n; i++) {
          const ps = doc.pageSize(i);
          const px = pixelSize(ps.width, ps.height, 144);
          assert.deepEqual(doc.renderSize(i), px);
          const img = await doc.renderPage(i);
          assertRgb(img, px.width, px.height, `${e.path} page ${i + 1}`);
        }
      } finally {
        doc.close();
      }
      // the same file from memory
      const mem = await openPdf(bytes);
      try {
        assert.equal(mem.pageCount, e.pages);
        assert.equal(mem.name, "<memory>");
      } finally {
        mem.close();
      }
    });
  }

  test("expected pixel sizes of page 1 at 144 dpi", async () => {
    const cases: [string, number, number][] = [
      ["academic_deepseek-ocr2-paper.pdf", 1191, 1684],
      ["cjk_moderncv-template-zh.pdf", 1191, 1684],
      ["academic-2col-math_tracemonkey.pdf", 1224, 1584],
      ["slides_metropolis-demo.pdf", 726, 545],
      ["blank-page_no-contents.pdf", 1440, 1440],
      ["scanned_huckfinn-page.pdf", 768, 942],
      ["broken-xref_viewers-open.pdf", 400, 100],
      ["rotate-90-180-270_arabic.pdf", 1684, 1191],
      ["rotate90_skewed-scan.pdf", 1224, 1584],
    ];
    for (const [file, w, h] of cases) {
      const doc = await openPdf(join(CORPUS, byName(file).path));
      try {
        assert.deepEqual(doc.renderSize(0, 144), { width: w, height: h }, file);
      } finally {
        doc.close();
      }
    }
  });

  test("mixed page sizes: every page gets its own size", async () => {
    const doc = await openPdf(join(CORPUS, byName("mixed-page-sizes").path));
    try {
      const sizes = Array.from({ length: doc.pageCount }, (_, i) => doc.renderSize(i));
      assert.deepEqual(sizes, [
        { width: 768, height: 942 },
        { width: 4320, height: 4320 },
        { width: 1437, height: 600 },
        { width: 1437, height: 600 },
        { width: 1224, height: 1584 },
        { width: 1584, height: 1224 },
      ]);
    } finally {
      doc.close();
    }
  });

  test("poster 25 x 50 in renders at 144 dpi as 3600 x 7200", { timeout: 60_000 }, async () => {
    const doc = await openPdf(join(CORPUS, byName("large-page_poster").path));
    try {
      const img = await doc.renderPage(0);
      assertRgb(img, 3600, 7200, "poster");
      // and refuses when over a smaller cap, suggesting a lower dpi
      await rejectsPdf(
        doc.renderPage(0, { maxPixels: 10_000_000 }),
        "page-too-large",
        doc.name,
        /--dpi \(at most 89\)/,
      );
    } finally {
      doc.close();
    }
  });

  test("/Rotate 90, 180, 270 is applied (pages 1-3 equal page 4 turned clockwise)", async () => {
    const doc = await openPdf(join(CORPUS, byName("rotate-90-180-270").path));
    try {
      const imgs: RgbImage[] = [];
      for (let i = 0; i < 4; i++) imgs.push(await doc.renderPage(i, { dpi: 72 }));
      assert.deepEqual(
        imgs.map((m) => [m.width, m.height]),
        [
          [842, 596],
          [596, 842],
          [842, 596],
          [596, 842],
        ],
      );
      const upright = imgs[3];
      for (const [page, quarter] of [
        [0, 1],
        [1, 2],
        [2, 3],
      ] as const) {
        const right = meanAbsDiff(rotateCw(upright, quarter), imgs[page]);
        const wrong = meanAbsDiff(rotateCw(upright, quarter + 2), imgs[page]);
        assert.ok(right < wrong / 3, `page ${page + 1}: diff ${right} (right turn) vs ${wrong} (opposite turn)`);
      }
    } finally {
      doc.close();
    }
  });

  test("blank page without /Contents renders pure white", async () => {
    const doc = await openPdf(join(CORPUS, byName("blank-page_no-contents").path));
    try {
      const img = await doc.renderPage(0, { dpi: 36 });
      assertRgb(img, 360, 360, "blank");
      assert.ok(img.data.every((v) => v === 255));
    } finally {
      doc.close();
    }
  });

  test("a page with content is not blank and is RGB (colour slide)", async () => {
    const doc = await openPdf(join(CORPUS, byName("slides_metropolis").path));
    try {
      const img = await doc.renderPage(0);
      let dark = 0;
      let colour = 0;
      for (let i = 0; i < img.data.length; i += 3) {
        const [r, g, b] = [img.data[i], img.data[i + 1], img.data[i + 2]];
        if (r + g + b < 450) dark++; // text is dark grey on #fafafa
        if (Math.max(r, g, b) - Math.min(r, g, b) > 40) colour++;
      }
      assert.ok(dark > 1000, `dark pixels: ${dark}`);
      // metropolis title slides have an orange rule: proves the channels are not all equal
      assert.ok(colour > 100, `coloured pixels: ${colour}`);
    } finally {
      doc.close();
    }
  });

  test("filled form: widgets are drawn through the form-fill environment", async () => {
    const e = byName("form_irs-1040");
    const doc = await openPdf(join(CORPUS, e.path));
    let img: RgbImage;
    try {
      img = await doc.renderPage(0);
      assertRgb(img, 1224, 1584, "form");
    } finally {
      doc.close();
    }
    // The same page rendered by plain FPDF_RenderPageBitmap(FPDF_ANNOT), which skips widgets:
    // ours must differ (the check-box widgets' appearance streams are drawn on top).
    const plain = await renderWithoutWidgets(corpusBytes(e), 1224, 1584);
    let differ = 0;
    for (let i = 0; i < img.data.length; i++) if (img.data[i] !== plain[i]) differ++;
    assert.ok(differ > 1000, `only ${differ} bytes differ from a render without widgets`);
  });
});

describe("corpus: PDFs that must fail", () => {
  const dir = (e: Entry) => join(CORPUS, e.path);
  const cases: Record<string, { code: PdfErrorCode; re: RegExp; at: "open" | "render" }> = {
    "pdf/bad/zero-byte.pdf": { code: "empty", re: /empty file/, at: "open" },
    "pdf/bad/not-a-pdf_html.pdf": { code: "not-pdf", re: /not a PDF/, at: "open" },
    "pdf/bad/header-only_invalid.pdf": { code: "corrupt", re: /damaged or truncated PDF/, at: "open" },
    "pdf/bad/truncated.pdf": { code: "corrupt", re: /damaged or truncated PDF/, at: "open" },
    "pdf/bad/broken-xref_poppler-opens-pdfium-rejects.pdf": { code: "corrupt", re: /corrupted/, at: "open" },
    "pdf/bad/encrypted_user-password.pdf": { code: "password", re: /password required/, at: "open" },
    "pdf/bad/zero-pages.pdf": { code: "no-pages", re: /no pages/, at: "open" },
    "pdf/bad/absurd-mediabox_fuzzed.pdf": {
      code: "page-too-large",
      re: /too large to render.*damaged page size/,
      at: "render",
    },
  };
  test("every error entry of the MANIFEST is covered", () => {
    const bad = pdfs.filter((e) => !isOk(e)).map((e) => e.path);
    assert.deepEqual(bad.sort(), Object.keys(cases).sort());
  });
  for (const [path, c] of Object.entries(cases)) {
    test(`${path}: ${c.code}`, { timeout: 30_000 }, async () => {
      const e = pdfs.find((f) => f.path === path);
      assert.ok(e);
      assert.match(e.expected, /^error/);
      const bytes = corpusBytes(e);
      if (c.at === "open") {
        await rejectsPdf(openPdf(dir(e)), c.code, dir(e), c.re);
        await rejectsPdf(openPdf(bytes, { name: "x.pdf" }), c.code, "x.pdf", c.re);
      } else {
        const doc = await openPdf(dir(e));
        try {
          assert.equal(doc.pageCount, 1);
          await rejectsPdf(doc.renderPage(0), c.code, dir(e), c.re);
          await rejectsPdf(doc.renderPage(0, { dpi: 1 }), c.code, dir(e), c.re);
        } finally {
          doc.close();
        }
      }
    });
  }

  test("the user-password file opens with its password, not with a wrong one", async () => {
    const e = byName("encrypted_user-password");
    await rejectsPdf(openPdf(dir(e), { password: "nope" }), "password", dir(e), /incorrect password/);
    for (const password of ["openpassword", "permissionpassword"]) {
      const doc = await openPdf(dir(e), { password });
      try {
        assert.equal(doc.pageCount, 1);
        const img = await doc.renderPage(0, { dpi: 36 });
        assert.ok(img.width > 0 && img.height > 0);
      } finally {
        doc.close();
      }
    }
  });

  test("the owner-password-only file opens without a password", async () => {
    const doc = await openPdf(dir(byName("encrypted-no-user-password")));
    try {
      assert.equal(doc.pageCount, 1);
    } finally {
      doc.close();
    }
  });
});

describe("API contract", () => {
  const letter = join(CORPUS, "pdf/letter_moderncv.pdf");

  test("missing file is an io PdfError naming the file", async () => {
    await rejectsPdf(openPdf("/nonexistent/dir/x.pdf"), "io", "/nonexistent/dir/x.pdf", /file not found/);
    await rejectsPdf(openPdf(CORPUS), "io", CORPUS, /cannot read/);
  });

  test("dpi option and maxPixels", async () => {
    const doc = await openPdf(letter);
    try {
      assertRgb(await doc.renderPage(0, { dpi: 72 }), 612, 792, "72 dpi");
      assertRgb(await doc.renderPage(0, { dpi: 50 }), 425, 550, "50 dpi");
      const err = await rejectsPdf(doc.renderPage(0, { maxPixels: 1000 }), "page-too-large", letter, /lower --dpi/);
      assert.match(err.message, /page 1 \(612 x 792 pt\)/);
      await assert.rejects(doc.renderPage(0, { dpi: 0 }), RangeError);
      await assert.rejects(doc.renderPage(0, { dpi: Number.POSITIVE_INFINITY }), RangeError);
    } finally {
      doc.close();
    }
  });

  test("bad page index is a RangeError; use after close is a PdfError; close is idempotent", async () => {
    const doc = await openPdf(letter);
    assert.throws(() => doc.pageSize(1), RangeError);
    assert.throws(() => doc.pageSize(-1), RangeError);
    await assert.rejects(doc.renderPage(1), RangeError);
    await assert.rejects(doc.renderPage(0.5), RangeError);
    doc.close();
    doc.close();
    await rejectsPdf(doc.renderPage(0), "closed", letter, /closed/);
    assert.throws(() => doc.pageSize(0), PdfError);
  });

  test("several documents open at once render independently", async () => {
    const a = await openPdf(letter);
    const b = await openPdf(join(CORPUS, "pdf/slides_metropolis-demo.pdf"));
    try {
      const [ia, ib] = await Promise.all([a.renderPage(0, { dpi: 36 }), b.renderPage(3, { dpi: 36 })]);
      assertRgb(ia, 306, 396, "letter");
      assertRgb(ib, 182, 137, "slide 4");
    } finally {
      a.close();
      b.close();
    }
  });

  test("no WebAssembly memory leaks on success and error paths", { timeout: 60_000 }, () => {
    // In a child process: this process's heap has been grown by the poster render, and free
    // space would hide a leak. 20 cycles leak > 80 MB if the file or a bitmap is not freed.
    const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO, "test/pdf/leak-child.ts"), "20"], {
      encoding: "utf8",
      cwd: REPO,
    });
    assert.equal(r.status, 0, r.stderr);
    const { before, after } = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as { before: number; after: number };
    assert.equal(after, before, `WASM heap grew from ${before} to ${after} bytes: something is not freed`);
  });
});

/** Rotates an RGB image by `quarters` * 90 degrees clockwise. */
function rotateCw(img: RgbImage, quarters: number): RgbImage {
  let cur = img;
  for (let q = 0; q < ((quarters % 4) + 4) % 4; q++) {
    const { width: w, height: h, data } = cur;
    const out = new Uint8Array(data.length);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = (y * w + x) * 3;
        const d = (x * h + (h - 1 - y)) * 3;
        out[d] = data[s];
        out[d + 1] = data[s + 1];
        out[d + 2] = data[s + 2];
      }
    }
    cur = { width: h, height: w, data: out };
  }
  return cur;
}

function meanAbsDiff(a: RgbImage, b: RgbImage): number {
  if (a.width !== b.width || a.height !== b.height) return Number.POSITIVE_INFINITY;
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i] - b.data[i]);
  return s / a.data.length;
}

/** Page 1 rendered with FPDF_ANNOT but no form-fill environment (widgets are not drawn), as RGB. */
async function renderWithoutWidgets(bytes: Uint8Array, w: number, h: number): Promise<Uint8Array> {
  const m = await getPdfium();
  const ptr = m.rt.wasmExports.malloc(bytes.length);
  m.rt.HEAPU8.set(bytes, ptr);
  const doc = m.FPDF_LoadMemDocument(ptr, bytes.length, "");
  const page = m.FPDF_LoadPage(doc, 0);
  const bmp = m.FPDFBitmap_CreateEx(w, h, 2, 0, 0);
  try {
    m.FPDFBitmap_FillRect(bmp, 0, 0, w, h, 0xffffffff);
    m.FPDF_RenderPageBitmap(bmp, page, 0, 0, w, h, 0, 0x01);
    const stride = m.FPDFBitmap_GetStride(bmp);
    const buf = m.FPDFBitmap_GetBuffer(bmp);
    const out = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = buf + y * stride + x * 3;
        const d = (y * w + x) * 3;
        out[d] = m.rt.HEAPU8[s + 2];
        out[d + 1] = m.rt.HEAPU8[s + 1];
        out[d + 2] = m.rt.HEAPU8[s];
      }
    }
    return out;
  } finally {
    m.FPDFBitmap_Destroy(bmp);
    m.FPDF_ClosePage(page);
    m.FPDF_CloseDocument(doc);
    m.rt.wasmExports.free(ptr);
  }
}
