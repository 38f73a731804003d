/**
 * The library API on the tiny checkpoint: `extract` reproduces the official greedy tokens of a
 * fixture case, `stream` yields the same text piece by piece, `extractDocument` returns every
 * page in order, AbortSignal stops a page, `close` refuses further work.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DeepSeekOCR } from "../../src/index.ts";
import { createRgbImage } from "../../src/preprocess/image.ts";
import { CORPUS, FIXTURES } from "../helpers/paths.ts";

const MODEL = join(FIXTURES, "models", "tiny-v2");
const CASE = join(FIXTURES, "cases", "v2_page_base");
let ocr: DeepSeekOCR;

before(async () => {
  ocr = await DeepSeekOCR.load(MODEL, { precision: "f32", concurrency: 2 });
});
after(async () => {
  await ocr.close();
});

function fixtureCase() {
  const c = JSON.parse(readFileSync(join(CASE, "case.json"), "utf8"));
  const exact = (() => {
    let n = 0;
    while (n < c.generation.steps.length && c.generation.steps[n].margin > 1e-3) n++;
    return n;
  })();
  return { c, image: join(CASE, c.image.file), expected: c.generation.generated_ids as number[], exact };
}

test("extract() reproduces the official greedy tokens of a fixture case", async () => {
  const { c, image, expected, exact } = fixtureCase();
  const r = await ocr.extract(image, {
    prompt: c.infer_args.prompt,
    maxTiles: c.infer_args.crop_mode ? 6 : 0,
    maxTokens: 32,
    ngramWindow: "all",
  });
  assert.deepEqual(r.tokens.slice(0, exact), expected.slice(0, exact));
  assert.equal(r.usage.promptTokens, c.input_len);
  assert.equal(r.usage.completionTokens, r.tokens.length);
  assert.ok(r.usage.imageTokens > 0 && r.usage.imageTokens < r.usage.promptTokens);
  assert.equal(r.finished, r.tokens.at(-1) === 1);
  assert.ok(r.timings.total >= r.timings.decode);
  assert.equal(typeof r.markdown, "string");
});

test("stream() yields the text of extract() piece by piece, then the same result", async () => {
  const { image } = fixtureCase();
  const opts = { maxTiles: 0, maxTokens: 12 };
  const whole = await ocr.extract(image, opts);
  const stream = ocr.stream(image, opts);
  const pieces: string[] = [];
  for await (const p of stream) pieces.push(p);
  const r = await stream.result;
  assert.deepEqual(r.tokens, whole.tokens);
  assert.ok(pieces.length > 1);
  assert.equal(pieces.join(""), r.raw);
});

test("concurrent extract() calls give the results of single calls", async () => {
  const { image } = fixtureCase();
  const a = await ocr.extract(image, { maxTiles: 0, maxTokens: 10 });
  const b = await ocr.extract(createRgbImage(300, 200, [250, 250, 250]), { maxTiles: 0, maxTokens: 10 });
  const [a2, b2] = await Promise.all([
    ocr.extract(image, { maxTiles: 0, maxTokens: 10 }),
    ocr.extract(createRgbImage(300, 200, [250, 250, 250]), { maxTiles: 0, maxTokens: 10 }),
  ]);
  assert.deepEqual(a2.tokens, a.tokens);
  assert.deepEqual(b2.tokens, b.tokens);
});

test("extractDocument() returns the selected pages of a PDF in order", async () => {
  const pdf = join(CORPUS, "pdf", "mixed-page-sizes_multipage.pdf");
  const pages = [];
  for await (const p of ocr.extractDocument(pdf, { pages: [2, 3, 5], maxTiles: 0, maxTokens: 4, dpi: 36 })) {
    pages.push(p);
  }
  assert.deepEqual(
    pages.map((p) => p.page),
    [2, 3, 5],
  );
  for (const p of pages) assert.ok(p.image.width > 0 && p.tokens.length > 0 && p.tokens.length <= 4);
});

test("extractDocument() takes PDF bytes and lists of images", async () => {
  const bytes = readFileSync(join(CORPUS, "pdf", "letter_moderncv.pdf"));
  const fromBytes = [];
  for await (const p of ocr.extractDocument(bytes, { maxTiles: 0, maxTokens: 3, dpi: 36 })) fromBytes.push(p.page);
  assert.deepEqual(fromBytes, [1]);
  // Multi-page TIFF bytes: every page, as from a path.
  const tiff = readFileSync(join(CORPUS, "img", "tiff-multipage_two-scans.tif"));
  const tiffPages = [];
  for await (const p of ocr.extractDocument(tiff, { maxTiles: 0, maxTokens: 1 })) tiffPages.push(p.page);
  assert.deepEqual(tiffPages, [1, 2]);
  const imgs = [createRgbImage(64, 64, [255, 255, 255]), createRgbImage(80, 40, [0, 0, 0])];
  const sizes = [];
  for await (const p of ocr.extractDocument(imgs, { maxTiles: 0, maxTokens: 2 })) sizes.push(p.image);
  assert.deepEqual(sizes, [
    { width: 64, height: 64 },
    { width: 80, height: 40 },
  ]);
});

test("an AbortSignal stops a page: extract() rejects with its reason", async () => {
  const { image } = fixtureCase();
  const ac = new AbortController();
  let seen = 0;
  const p = ocr.extract(image, {
    maxTiles: 0,
    maxTokens: 10_000,
    ngramSize: 0,
    signal: ac.signal,
    onToken: () => {
      if (++seen === 3) ac.abort(new Error("stop here"));
    },
  });
  await assert.rejects(p, /stop here/);
  assert.ok(seen >= 3 && seen < 10);
  const already = AbortSignal.abort(new Error("too late"));
  await assert.rejects(ocr.extract(image, { signal: already }), /too late/);
});

test("bad inputs are rejected with a clear error", async () => {
  await assert.rejects(ocr.extract("/nonexistent/scan.png"), /scan\.png/);
  await assert.rejects(ocr.extract({ width: 2, height: 2, data: new Uint8Array(5) }), /width\*height\*3/);
  await assert.rejects(ocr.extract(readFileSync(join(CORPUS, "pdf", "letter_moderncv.pdf"))), /extractDocument/);
  await assert.rejects(DeepSeekOCR.load("/nonexistent/model"), /nonexistent\/model/);
});

test("close() refuses further work", async () => {
  const other = await DeepSeekOCR.load(MODEL, { precision: "f32" });
  await other.close();
  await other.close();
  await assert.rejects(other.extract(createRgbImage(8, 8)), /closed/);
});
