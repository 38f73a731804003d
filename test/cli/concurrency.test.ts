/**
 * `--concurrency N` (issue 10): pages of several documents in flight together, decoded in batched
 * steps, give the same pages (tokens, raw text, stop) as `--concurrency 1` with greedy decoding.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { CORPUS, FIXTURES, REPO } from "../helpers/paths.ts";

const model = join(FIXTURES, "models", "tiny-v2");

interface JsonOut {
  documents: {
    input: string;
    settings: { concurrency: number };
    pages: { page: number; tokens: number[]; raw: string; stop: string }[];
  }[];
  errors: unknown[];
}

function run(concurrency: number): JsonOut {
  const inputs = [join(CORPUS, "pdf", "rotate-90-180-270_arabic.pdf"), join(FIXTURES, "images", "small.png")];
  const r = spawnSync(
    process.execPath,
    [
      join(REPO, "bin", "dsocr.js"),
      ...inputs,
      "--model",
      model,
      "--max-tiles",
      "0",
      "--max-tokens",
      "8",
      "--dpi",
      "72",
      "--threads",
      "2",
      "--concurrency",
      String(concurrency),
      "--json",
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as JsonOut;
}

test("--concurrency 3 gives the same pages as --concurrency 1 (multi-page PDF + an image)", () => {
  const one = run(1);
  const three = run(3);
  assert.equal(one.documents.length, 2);
  assert.equal(three.documents.length, 2);
  assert.equal(one.documents[0].pages.length, 4);
  assert.equal(three.documents[0].settings.concurrency, 3);
  const pagesOf = (o: JsonOut) =>
    o.documents.map((d) => ({
      input: d.input,
      pages: d.pages.map((p) => ({ page: p.page, tokens: p.tokens, raw: p.raw, stop: p.stop })),
    }));
  assert.deepEqual(pagesOf(three), pagesOf(one));
  assert.ok(
    one.documents[0].pages.some((p) => p.tokens.length > 1),
    "some page decodes more than one token",
  );
});
