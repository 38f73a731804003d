/**
 * DocumentWriter (issue 11): crops, markdown with links, det.md, JSON against the schema, failed
 * pages, atomic flushes, --resume round trip, on hand-written outputs shaped like the model's.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import sharp from "sharp";
import { openPdf } from "../../src/pdf/document.ts";
import { type DocumentMeta, failedPageMarkdown } from "../../src/pipeline/document.ts";
import { DocumentWriter } from "../../src/pipeline/document-writer.ts";
import { EOS_TEXT } from "../../src/pipeline/grounding.ts";
import { settingsHash } from "../../src/pipeline/hashes.ts";
import { PAGE_SPLIT } from "../../src/pipeline/markdown.ts";
import { tempDir } from "../helpers/paths.ts";
import { PAGE, pageResult, positionImage } from "./samples.ts";
import { schemaErrors } from "./schema.ts";

const W = 600;
const H = 800;

function meta(pageCount: number): DocumentMeta {
  const settings = { prompt: "<image>\n<|grounding|>Convert the document to markdown.", max_tokens: 8192, dpi: 144 };
  return {
    input: "/data/in/report.pdf",
    input_sha256: "ab".repeat(32),
    model: "/models/DeepSeek-OCR-2",
    settings,
    settings_hash: settingsHash(settings),
    page_count: pageCount,
  };
}

/** Every file under `dir`, relative, recursively. */
function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((n) =>
    statSync(join(dir, n)).isDirectory() ? listFiles(join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`],
  );
}

/** Targets of `![](...)` links in markdown, percent-decoded. */
function imageLinks(md: string): string[] {
  return [...md.matchAll(/!\[\]\(([^)\s]+)\)/g)].map((m) => decodeURIComponent(m[1]));
}

const PAGE_TWO = [
  "<|ref|>sub_title<|/ref|><|det|>[[80, 40, 600, 70]]<|/det|>",
  "## 2. Method",
  "",
  "<|ref|>text<|/ref|><|det|>[[80, 90, 920, 300]]<|/det|>",
  "The encoder reads the page.",
  "",
  "<|ref|>image<|/ref|><|det|>[[500, 500, 500, 700]]<|/det|>",
  "",
  "<|ref|>image<|/ref|><|det|>[[0, 600, 999, 999]]<|/det|>",
  `${EOS_TEXT}`,
].join("\n");

describe("DocumentWriter", () => {
  test("crops every image box with the official pixel rule, md links resolve, det.md keeps spans", async () => {
    const out = tempDir();
    const w = new DocumentWriter(out, "report", meta(2), { layout: false });
    const rec = await w.addPage(positionImage(W, H), 1, pageResult(PAGE, W, H));
    // [100, 200, 480, 420] -> int(100/999*600)=60, int(200/999*800)=160, 288, 336
    assert.deepEqual(rec.images, [
      { path: "images/report/1_0.png", box_px: [60, 160, 288, 336] },
      { path: "images/report/1_1.png", box_px: [312, 160, 540, 336] },
    ]);
    for (const im of rec.images) {
      const { data, info } = await sharp(join(out, im.path)).raw().toBuffer({ resolveWithObject: true });
      assert.equal(info.format, "raw");
      assert.deepEqual([info.width, info.height], [im.box_px[2] - im.box_px[0], im.box_px[3] - im.box_px[1]]);
      // first pixel = page pixel (x1, y1): [x1 % 256, y1 % 256, 77]
      assert.deepEqual([...data.subarray(0, 3)], [im.box_px[0] % 256, im.box_px[1] % 256, 77]);
    }
    assert.equal((await sharp(join(out, "images/report/1_0.png")).metadata()).format, "png");

    await w.addPage(positionImage(W, H), 2, pageResult(PAGE_TWO, W, H));
    const written = await w.flush(true);
    assert.deepEqual(written, [join(out, "report.md"), join(out, "report.det.md"), join(out, "report.json")]);

    const md = readFileSync(join(out, "report.md"), "utf8");
    assert.equal(md.split(PAGE_SPLIT).length, 3, "two pages, each followed by the split marker");
    assert.ok(md.endsWith(PAGE_SPLIT));
    assert.ok(!md.includes("<|"), "no grounding tags in the clean markdown");
    assert.match(md, /^# DeepSeek-OCR 2: Visual Causal Flow\n\nWe define \\\(a := b\\\)/);
    assert.match(md, /x =: y/);
    const links = imageLinks(md);
    // page 2: box 0 is empty in pixels (x1 = x2): no crop, no link; box 1 is the bottom of the page
    assert.deepEqual(links, ["images/report/1_0.png", "images/report/1_1.png", "images/report/2_1.png"]);
    for (const l of links) assert.ok(existsSync(join(out, l)), l);
    assert.ok(!existsSync(join(out, "images/report/2_0.png")));
    const bottom = await sharp(join(out, "images/report/2_1.png")).metadata();
    // [0, 600, 999, 999] -> [0, 480, 600, 800]
    assert.deepEqual([bottom.width, bottom.height], [600, 320]);

    const det = readFileSync(join(out, "report.det.md"), "utf8");
    assert.equal(
      det,
      `${PAGE.slice(0, -EOS_TEXT.length)}${PAGE_SPLIT}${PAGE_TWO.slice(0, -EOS_TEXT.length)}${PAGE_SPLIT}`,
    );
    assert.ok(det.includes("<|ref|>image<|/ref|><|det|>[[100, 200, 480, 420], [520, 200, 900, 420]]<|/det|>"));
  });

  test("the JSON validates against the schema and has the documented shape", async () => {
    const out = tempDir();
    const w = new DocumentWriter(out, "report", meta(3), { layout: false });
    // pages arrive out of order; a page retried after a truncated first attempt
    await w.addPage(positionImage(W, H), 2, pageResult(PAGE_TWO, W, H, { grid: [2, 3] }), { retried: true });
    await w.addPage(positionImage(W, H), 1, pageResult(PAGE, W, H));
    await w.addPage(
      positionImage(W, H),
      3,
      pageResult("<|ref|>text<|/ref|><|det|>[[1, 2, 3", W, H, { finished: false, stop: "max-new-tokens" }),
    );
    await w.flush(true);
    const doc = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    assert.equal(schemaErrors(doc), null);
    assert.equal(doc.schema_version, 1);
    assert.equal(doc.complete, true);
    assert.equal(doc.page_count, 3);
    assert.equal(doc.settings_hash, settingsHash(doc.settings));
    assert.deepEqual(
      doc.pages.map((p: { page: number }) => p.page),
      [1, 2, 3],
    );
    const [p1, p2, p3] = doc.pages;
    assert.deepEqual([p1.width, p1.height, p1.finished, p1.stop, p1.retried], [W, H, true, "eos", false]);
    assert.equal(p2.retried, true);
    assert.deepEqual(p2.grid, [2, 3]);
    assert.deepEqual([p3.finished, p3.stop], [false, "max-new-tokens"]);
    assert.equal(p1.raw, PAGE.slice(0, -EOS_TEXT.length));
    assert.deepEqual(
      p1.blocks.map((b: { label: string }) => b.label),
      ["title", "text", "image", "image_caption", "table", "equation"],
    );
    assert.deepEqual(p1.blocks[0], {
      label: "title",
      text: "# DeepSeek-OCR 2: Visual Causal Flow",
      boxes: [[94, 65, 905, 100]],
      // int(94/999*600)=56, int(65/999*800)=52, int(905/999*600)=543, int(100/999*800)=80
      boxes_px: [[56, 52, 543, 80]],
    });
    assert.deepEqual(p1.usage, { prompt_tokens: 283, image_tokens: 273, completion_tokens: 41 });
    assert.equal(p1.tokens.length, 41);
    assert.deepEqual(p1.timings, { preprocess: 0.012, encode: 1.5, prefill: 0.25, decode: 3.247, total: 5.009 });

    // the schema rejects what it should
    const bad = (mutate: (d: typeof doc) => void) => {
      const d = structuredClone(doc);
      mutate(d);
      return schemaErrors(d);
    };
    assert.notEqual(
      bad((d) => {
        d.pages[0].blocks[0].boxes[0][2] = 1000;
      }),
      null,
    );
    assert.notEqual(
      bad((d) => {
        d.pages[0].blocks[0].boxes[0].pop();
      }),
      null,
    );
    assert.notEqual(
      bad((d) => {
        delete d.pages[0].usage;
      }),
      null,
    );
    assert.notEqual(
      bad((d) => {
        d.input_sha256 = "xyz";
      }),
      null,
    );
    assert.notEqual(
      bad((d) => {
        d.pages[0].finished = false; // stop is "eos"
      }),
      null,
    );
    assert.notEqual(
      bad((d) => {
        d.pages[0].extra = 1;
      }),
      null,
    );
  });

  test("a failed page is in the JSON with its error and in the markdown as a comment", async () => {
    const out = tempDir();
    const w = new DocumentWriter(out, "report", meta(3), { layout: false });
    await w.addPage(positionImage(W, H), 1, pageResult(PAGE, W, H));
    w.addFailed(2, "render failed: page 2 is broken --> see log");
    await w.addPage(positionImage(W, H), 3, pageResult(PAGE_TWO, W, H));
    await w.flush(true);
    const doc = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    assert.equal(schemaErrors(doc), null);
    assert.equal(doc.pages.length, 3);
    const p2 = doc.pages[1];
    assert.deepEqual(
      [p2.page, p2.error, p2.stop, p2.finished, p2.raw, p2.tokens],
      [2, "render failed: page 2 is broken --> see log", "error", false, "", []],
    );
    const md = readFileSync(join(out, "report.md"), "utf8").split(PAGE_SPLIT);
    assert.equal(md.length, 4);
    assert.equal(md[1], failedPageMarkdown(2, "render failed: page 2 is broken --> see log"));
    assert.match(md[1], /^<!-- dsocr: page 2 failed: render failed: page 2 is broken - -> see log -->$/);
    // the comment is closed exactly once, at its end
    assert.equal(md[1].indexOf("-->"), md[1].length - 3);
    const det = readFileSync(join(out, "report.det.md"), "utf8").split(PAGE_SPLIT);
    assert.equal(det[1], md[1]);
  });

  test("flush after every page: a consistent partial document, then the complete one; no temp files", async () => {
    const out = join(tempDir(), "nested", "out"); // created by the first flush
    const w = new DocumentWriter(out, "report", meta(2), { layout: true });
    await w.addPage(positionImage(W, H), 1, pageResult(PAGE, W, H));
    const first = await w.flush(false);
    assert.equal(first.length, 3, "no layout PDF before the document is complete");
    let doc = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    assert.equal(schemaErrors(doc), null);
    assert.equal(doc.complete, false);
    assert.equal(doc.pages.length, 1);
    assert.equal(readFileSync(join(out, "report.md"), "utf8").split(PAGE_SPLIT).length, 2);
    assert.ok(!existsSync(join(out, "report.layout.pdf")));

    await w.addPage(positionImage(W, H), 2, pageResult(PAGE_TWO, W, H));
    // flushes run in call order: the second one's state stays on disk
    const [a, b] = await Promise.all([w.flush(false), w.flush(true)]);
    assert.equal(a.length, 3);
    assert.deepEqual(b.at(-1), join(out, "report.layout.pdf"));
    doc = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    assert.equal(doc.complete, true);
    assert.equal(doc.pages.length, 2);
    assert.deepEqual(listFiles(out).sort(), [
      "images/report/1_0.png",
      "images/report/1_1.png",
      "images/report/2_1.png",
      "report.det.md",
      "report.json",
      "report.layout.pdf",
      "report.md",
    ]);
  });

  test("readExisting round-trips; addExisting reuses pages; stale crops of a redone page go", async () => {
    const out = tempDir();
    const w = new DocumentWriter(out, "report", meta(2), { layout: false });
    await w.addPage(positionImage(W, H), 1, pageResult(PAGE, W, H));
    await w.addPage(positionImage(W, H), 2, pageResult(PAGE_TWO, W, H));
    await w.flush(true);
    const md = readFileSync(join(out, "report.md"), "utf8");
    const existing = DocumentWriter.readExisting(out, "report");
    assert.deepEqual(existing, w.toRecord(true));
    assert.ok(existing);

    // --resume: page 1 reused, page 2 redone with a different output (one image box fewer)
    const again = new DocumentWriter(out, "report", meta(2), { layout: true, layoutDpi: 144 });
    again.addExisting(existing.pages[0]);
    const redo = PAGE_TWO.replace("<|ref|>image<|/ref|><|det|>[[0, 600, 999, 999]]<|/det|>", "");
    await again.addPage(positionImage(W, H), 2, pageResult(redo, W, H));
    await again.flush(true);
    const md2 = readFileSync(join(out, "report.md"), "utf8").split(PAGE_SPLIT);
    assert.equal(md2[0], md.split(PAGE_SPLIT)[0], "page 1 unchanged");
    assert.ok(!md2[1].includes("!["));
    assert.ok(!existsSync(join(out, "images/report/2_1.png")), "stale crop removed");
    assert.ok(existsSync(join(out, "images/report/1_1.png")), "crops of other pages kept");
    // the reused page had no image: its layout page is white with the boxes, at the right size
    const pdf = await openPdf(join(out, "report.layout.pdf"));
    try {
      assert.equal(pdf.pageCount, 2);
      assert.deepEqual(pdf.pageSize(0), { width: 300, height: 400 });
    } finally {
      pdf.close();
    }

    // missing, unparsable, or not a record of this schema version: null
    assert.equal(DocumentWriter.readExisting(out, "nope"), null);
    writeFileSync(join(out, "broken.json"), '{"schema_version": 1, "pages": [');
    assert.equal(DocumentWriter.readExisting(out, "broken"), null);
    writeFileSync(join(out, "old.json"), JSON.stringify({ ...existing, schema_version: 0 }));
    assert.equal(DocumentWriter.readExisting(out, "old"), null);
    writeFileSync(join(out, "odd.json"), JSON.stringify({ ...existing, pages: [{ page: "1" }] }));
    assert.equal(DocumentWriter.readExisting(out, "odd"), null);
  });

  test("documents sharing an output directory keep their crops apart; names are link-safe", async () => {
    const out = tempDir();
    const raw = "<|ref|>image<|/ref|><|det|>[[0, 0, 499, 499]]<|/det|>\n";
    const a = new DocumentWriter(out, "a", meta(1), { layout: false });
    const b = new DocumentWriter(out, "my report (v2) 100%", meta(1), { layout: false });
    await a.addPage(positionImage(W, H), 1, pageResult(raw, W, H));
    await b.addPage(positionImage(100, 50), 1, pageResult(raw, 100, 50));
    await a.flush(true);
    await b.flush(true);
    const mdB = readFileSync(join(out, "my report (v2) 100%.md"), "utf8");
    assert.match(mdB, /^!\[\]\(images\/my%20report%20%28v2%29%20100%25\/1_0\.png\)\n/);
    const [link] = imageLinks(mdB);
    assert.equal(link, "images/my report (v2) 100%/1_0.png");
    assert.deepEqual(
      [(await sharp(join(out, link)).metadata()).width, (await sharp(join(out, "images/a/1_0.png")).metadata()).width],
      [49, 299],
    );
  });

  test("argument errors", async () => {
    const out = tempDir();
    for (const name of ["", ".", "..", "a/b", "a\\b"]) {
      assert.throws(() => new DocumentWriter(out, name, meta(1), { layout: false }), RangeError, name);
    }
    const w = new DocumentWriter(out, "x", meta(2), { layout: false });
    await assert.rejects(w.addPage(positionImage(W, H), 0, pageResult(PAGE, W, H)), RangeError);
    await assert.rejects(w.addPage(positionImage(W, H), 3, pageResult(PAGE, W, H)), RangeError);
    await assert.rejects(w.addPage(positionImage(W, H), 1, pageResult(PAGE, W + 1, H)), RangeError);
    assert.throws(() => w.addFailed(1.5, "x"), RangeError);
    assert.equal(existsSync(join(out, "images")), false, "nothing written for rejected pages");
  });
});
