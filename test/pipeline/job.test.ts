/**
 * The batch job (runJob) with a scripted recognizer standing in for the model: outputs of every
 * page, crops and links, the retry of a page that hit the token limit, --resume, an interrupted
 * run, bad inputs, progress events.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { PageResult, RecognizeHooks } from "../../src/pipeline/engine.ts";
import type { JobEvent } from "../../src/pipeline/events.ts";
import { type JobOptions, type PageRecognizer, runJob, uniqueNames } from "../../src/pipeline/job.ts";
import { DEFAULT_PAGE_OPTIONS, type PageOptions } from "../../src/pipeline/options.ts";
import { parsePageRange } from "../../src/pipeline/page-range.ts";
import type { RgbImage } from "../../src/preprocess/image.ts";
import { CORPUS, tempDir } from "../helpers/paths.ts";

const RAW =
  "<|ref|>title<|/ref|><|det|>[[100, 50, 900, 120]]<|/det|>\n# A title\n\n" +
  "<|ref|>image<|/ref|><|det|>[[100, 200, 500, 600]]<|/det|>\n\n" +
  "<|ref|>text<|/ref|><|det|>[[100, 650, 900, 800]]<|/det|>\nSome text.";

/** Answers every page with RAW; `unfinished(call)` makes a call end at the token limit. */
class Scripted implements PageRecognizer {
  calls: { opts: PageOptions; size: [number, number] }[] = [];
  constructor(private readonly unfinished: (call: number) => boolean = () => false) {}
  async submit(img: RgbImage, opts: PageOptions, hooks: RecognizeHooks = {}): Promise<PageResult> {
    const call = this.calls.length;
    this.calls.push({ opts, size: [img.width, img.height] });
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 3; i++) hooks.onToken?.(5, "x");
    const aborted = hooks.signal?.aborted ?? false;
    const finished = !aborted && !this.unfinished(call);
    return {
      raw: RAW,
      tokens: finished ? [5, 6, 1] : [5, 6, 7],
      finished,
      stop: aborted ? "aborted" : finished ? "eos" : "max-new-tokens",
      promptTokens: 300,
      imageTokens: 257,
      grid: null,
      image: { width: img.width, height: img.height },
      timings: { preprocess: 0.01, encode: 0.1, prefill: 0.05, decode: 0.2 },
      steps: [],
    };
  }
  async ready() {}
  async drain() {}
}

const PDF3 = join(CORPUS, "pdf", "tables_icdar2013-us-001.pdf"); // 3 pages
const PNG = join(CORPUS, "img", "gray_baiona.png");

function options(out: string, events: JobEvent[], extra: Partial<JobOptions> = {}): JobOptions {
  return {
    out,
    page: { ...DEFAULT_PAGE_OPTIONS, maxTokens: 3 },
    dpi: 36,
    resume: false,
    layout: false,
    model: "/models/test",
    settings: { prompt: "document" },
    settingsHash: "s1",
    progress: { emit: (e) => events.push(e), token() {}, stop() {} },
    ...extra,
  };
}

const readJson = (p: string) => JSON.parse(readFileSync(p, "utf8"));

test("every page of every input is written: md, det.md, json, crops with working links", async () => {
  const out = tempDir();
  const events: JobEvent[] = [];
  const rec = new Scripted();
  const summary = await runJob(rec, [PDF3, PNG, join(CORPUS, "pdf", "bad", "zero-byte.pdf")], options(out, events));
  assert.equal(rec.calls.length, 4);
  assert.equal(summary.interrupted, false);
  const [pdf, png, bad] = summary.documents;
  assert.equal(pdf.pages, 3);
  assert.ok(pdf.complete && png.complete);
  assert.match(bad.error ?? "", /zero-byte\.pdf|empty/);
  const doc = readJson(join(out, "tables_icdar2013-us-001.json"));
  assert.equal(doc.complete, true);
  assert.deepEqual(
    doc.pages.map((p: { page: number }) => p.page),
    [1, 2, 3],
  );
  const md = readFileSync(join(out, "tables_icdar2013-us-001.md"), "utf8");
  assert.equal(md.split("<--- Page Split --->").length - 1, 3);
  assert.ok(!md.includes("<|ref|>"));
  const det = readFileSync(join(out, "tables_icdar2013-us-001.det.md"), "utf8");
  assert.equal(det.split("<|ref|>image<|/ref|>").length - 1, 3);
  for (const link of md.matchAll(/!\[\]\(([^)]+)\)/g)) assert.ok(existsSync(join(out, link[1])), link[1]);
  assert.equal([...md.matchAll(/!\[\]\(/g)].length, 3);
  for (const p of doc.pages) {
    for (const b of p.blocks) {
      for (const [x1, y1, x2, y2] of b.boxes_px) assert.ok(x1 >= 0 && y1 >= 0 && x2 <= p.width && y2 <= p.height);
    }
  }
  assert.ok(events.some((e) => e.event === "error" && e.input.endsWith("zero-byte.pdf")));
  const end = events.at(-1);
  assert.equal(end?.event, "end");
  if (end?.event === "end") {
    assert.equal(end.failed, 1);
    assert.equal(end.pages, 4);
  }
  assert.deepEqual(
    readdirSync(out).filter((f) => f.includes(".tmp")),
    [],
  );
});

test("a page that reaches the token limit is retried once with a stricter guard and kept", async () => {
  const out = tempDir();
  const events: JobEvent[] = [];
  const rec = new Scripted(() => true);
  await runJob(rec, [PNG], options(out, events));
  assert.equal(rec.calls.length, 2);
  assert.deepEqual(rec.calls[0].opts.ngram, { size: 20, window: 50 });
  assert.deepEqual(rec.calls[1].opts.ngram, { size: 10, window: 100 });
  const page = readJson(join(out, "gray_baiona.json")).pages[0];
  assert.equal(page.finished, false);
  assert.equal(page.retried, true);
  assert.ok(events.some((e) => e.event === "retry"));
});

test("--pages selects pages; pages that do not exist are a warning", async () => {
  const out = tempDir();
  const events: JobEvent[] = [];
  const rec = new Scripted();
  await runJob(rec, [PDF3], options(out, events, { pages: parsePageRange("2,3-9") }));
  assert.equal(rec.calls.length, 2);
  const doc = readJson(join(out, "tables_icdar2013-us-001.json"));
  assert.deepEqual(
    doc.pages.map((p: { page: number }) => p.page),
    [2, 3],
  );
  assert.ok(events.some((e) => e.event === "warning"));
});

test("--resume skips pages done with the same input and settings, and redoes them otherwise", async () => {
  const out = tempDir();
  const first = new Scripted();
  await runJob(first, [PDF3], options(out, []));
  assert.equal(first.calls.length, 3);
  const again = new Scripted();
  const events: JobEvent[] = [];
  await runJob(again, [PDF3], options(out, events, { resume: true }));
  assert.equal(again.calls.length, 0);
  assert.ok(events.some((e) => e.event === "document" && e.resumed === 3));
  assert.equal(readJson(join(out, "tables_icdar2013-us-001.json")).pages.length, 3);
  const otherSettings = new Scripted();
  await runJob(otherSettings, [PDF3], options(out, [], { resume: true, settingsHash: "s2" }));
  assert.equal(otherSettings.calls.length, 3);
  // Same name, other bytes: the input hash differs, the page is redone.
  const dir = tempDir();
  const doc = join(dir, "doc.png");
  copyFileSync(PNG, doc);
  await runJob(new Scripted(), [doc], options(out, []));
  copyFileSync(join(CORPUS, "img", "rgba_baiona-alpha.png"), doc);
  const changed = new Scripted();
  await runJob(changed, [doc], options(out, [], { resume: true }));
  assert.equal(changed.calls.length, 1);
});

test("an interrupted run keeps the pages done as an incomplete document; --resume finishes it", async () => {
  const out = tempDir();
  const ac = new AbortController();
  const events: JobEvent[] = [];
  const progress = {
    emit(e: JobEvent) {
      events.push(e);
      if (e.event === "page" && e.page === 1) ac.abort(new Error("interrupted"));
    },
    token() {},
    stop() {},
  };
  const summary = await runJob(new Scripted(), [PDF3, PNG], { ...options(out, events), signal: ac.signal, progress });
  assert.equal(summary.interrupted, true);
  const doc = readJson(join(out, "tables_icdar2013-us-001.json"));
  assert.equal(doc.complete, false);
  assert.ok(doc.pages.length >= 1 && doc.pages.length < 3);
  assert.equal(existsSync(join(out, "gray_baiona.json")), false);
  assert.deepEqual(
    readdirSync(out).filter((f) => f.includes(".tmp")),
    [],
  );
  const rest = new Scripted();
  await runJob(rest, [PDF3, PNG], options(out, [], { resume: true }));
  assert.equal(rest.calls.length, 3 - doc.pages.length + 1);
  assert.equal(readJson(join(out, "tables_icdar2013-us-001.json")).complete, true);
});

test("output names are unique in argument order", () => {
  assert.deepEqual(uniqueNames(["a/x.pdf", "b/x.png", "c/y.pdf", "d/x.tif"]), ["x", "x-2", "y", "x-3"]);
});
