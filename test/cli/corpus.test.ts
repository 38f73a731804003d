/**
 * End to end over the whole shared corpus (../shared/corpus/MANIFEST.json) with the tiny
 * checkpoint: one `dsocr <corpus dir>` run. Every good file yields all its pages in every output
 * (.md, .det.md, .json valid against the schema, boxes inside the page); every bad file gets its
 * one-line error naming it while the others finish; the exit code is 1 with a summary; a rerun
 * with --resume does no page again.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { test } from "node:test";
import { CORPUS, FIXTURES, REPO, tempDir } from "../helpers/paths.ts";
import { schemaErrors } from "../pipeline/schema.ts";

interface Entry {
  path: string;
  expected: string;
  pages?: number;
}
const manifest: { files: Entry[] } = JSON.parse(readFileSync(join(CORPUS, "MANIFEST.json"), "utf8"));
const isGood = (e: Entry) => e.expected.startsWith("ok");
const name = (e: Entry) => basename(e.path, extname(e.path));
/** Pages a good file must yield: a PDF's page count; every TIFF page; one page of any other image. */
const expectedPages = (e: Entry) => (e.path.endsWith(".pdf") ? (e.pages ?? 0) : e.path.includes("multipage") ? 2 : 1);

const out = tempDir();
const args = [
  join(REPO, "bin", "dsocr.js"),
  CORPUS,
  "--model",
  join(FIXTURES, "models", "tiny-v2"),
  "--out",
  out,
  "--max-tiles",
  "0",
  "--max-tokens",
  "2",
  "--dpi",
  "72",
  "--no-retry",
  "--progress",
  "plain",
];
const first = spawnSync(process.execPath, args, { encoding: "utf8" });

test("the corpus run ends with exit code 1 and a summary naming the failures", () => {
  assert.equal(first.status, 1, first.stderr);
  const bad = manifest.files.filter((e) => !isGood(e)).length;
  assert.match(
    first.stderr,
    new RegExp(
      `dsocr: ${manifest.files.length - bad} of ${manifest.files.length} document\\(s\\) done, .*${bad} document\\(s\\) failed`,
    ),
  );
});

for (const e of manifest.files.filter(isGood)) {
  test(`good: ${e.path} yields all its pages in every output`, () => {
    const doc = JSON.parse(readFileSync(join(out, `${name(e)}.json`), "utf8"));
    assert.equal(schemaErrors(doc), null);
    const n = expectedPages(e);
    assert.equal(doc.complete, true);
    assert.deepEqual(
      doc.pages.map((p: { page: number }) => p.page),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    for (const p of doc.pages) {
      assert.equal(p.error, undefined);
      assert.ok(p.width > 0 && p.height > 0 && p.tokens.length > 0);
      for (const b of p.blocks) {
        for (const [x1, y1, x2, y2] of b.boxes_px) assert.ok(x1 >= 0 && y1 >= 0 && x2 <= p.width && y2 <= p.height);
      }
      for (const img of p.images) assert.ok(existsSync(join(out, img.path)), img.path);
    }
    for (const ext of [".md", ".det.md"]) {
      const text = readFileSync(join(out, `${name(e)}${ext}`), "utf8");
      assert.equal(text.split("<--- Page Split --->").length - 1, n, ext);
    }
  });
}

for (const e of manifest.files.filter((x) => !isGood(x))) {
  test(`bad: ${e.path} gets one error line naming it (${e.expected})`, () => {
    const lines = first.stderr
      .split("\n")
      .filter((l) => l.startsWith("dsocr: ") && l.includes(e.path.split("/").pop() as string));
    assert.equal(lines.length, 1, first.stderr);
    assert.ok(!existsSync(join(out, `${name(e)}.json`)), name(e));
  });
}

test("no temporary files are left", () => {
  assert.deepEqual(
    readdirSync(out).filter((f) => f.includes(".tmp")),
    [],
  );
});

test("a rerun with --resume recognises no page again", () => {
  const again = spawnSync(process.execPath, [...args.slice(0, -2), "--progress", "json", "--resume"], {
    encoding: "utf8",
  });
  assert.equal(again.status, 1);
  const events = again.stderr
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(events.filter((x) => x.event === "page").length, 0);
  const good = new Set(manifest.files.filter(isGood).map((e) => join(CORPUS, e.path)));
  const docs = events.filter((x) => x.event === "document" && good.has(x.input));
  assert.equal(docs.length, good.size);
  for (const d of docs) assert.equal(d.resumed, d.pages, d.input);
});
