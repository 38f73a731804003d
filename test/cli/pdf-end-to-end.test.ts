/**
 * End to end: the CLI on a real multi-page PDF of the corpus with the tiny checkpoint writes every
 * page to <name>.md and <name>.json; a bad input in the same batch gets a one-line error naming it
 * while the good one still finishes, and the exit code is non-zero.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CORPUS, FIXTURES, REPO, tempDir } from "../helpers/paths.ts";

const model = join(FIXTURES, "models", "tiny-v2");

function dsocr(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(REPO, "bin", "dsocr.js"), ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
}

test("every page of a multi-page PDF reaches the outputs; a bad file does not stop the batch", () => {
  const out = tempDir();
  const good = join(CORPUS, "pdf", "rotate-90-180-270_arabic.pdf");
  const bad = join(CORPUS, "pdf", "bad", "truncated.pdf");
  const r = dsocr([
    bad,
    good,
    "--model",
    model,
    "--out",
    out,
    "--max-tiles",
    "0",
    "--max-tokens",
    "6",
    "--dpi",
    "72",
    "--progress",
    "plain",
  ]);
  assert.equal(r.status, 1, r.stderr);
  const errorLines = r.stderr.split("\n").filter((l) => l.startsWith("dsocr: ") && l.includes("truncated.pdf"));
  assert.equal(errorLines.length, 1, r.stderr);

  const doc = JSON.parse(readFileSync(join(out, "rotate-90-180-270_arabic.json"), "utf8"));
  assert.equal(doc.pages.length, 4);
  // --precision defaults to auto, resolved per CPU (bf16 with AVX-512 BF16, else f32).
  assert.ok(["f32", "bf16"].includes(doc.settings.precision), doc.settings.precision);
  doc.pages.forEach(
    (p: { page: number; tokens: number[]; finished: boolean; width: number; height: number }, i: number) => {
      assert.equal(p.page, i + 1);
      assert.ok(p.tokens.length >= 1 && p.tokens.length <= 6);
      assert.equal(p.finished, p.tokens.at(-1) === 1);
      assert.ok(p.width > 0 && p.height > 0);
    },
  );
  // /Rotate is applied: page 1 (/Rotate 90) and page 2 (/Rotate 180) of the same A4 page differ in orientation.
  assert.notEqual(doc.pages[0].width > doc.pages[0].height, doc.pages[1].width > doc.pages[1].height);
  const md = readFileSync(join(out, "rotate-90-180-270_arabic.md"), "utf8");
  assert.equal(md.split("<--- Page Split --->").length - 1, 4);
});

test("without progress options and a TTY, progress is JSON lines on stderr", () => {
  const out = tempDir();
  const r = dsocr([
    join(CORPUS, "img", "gray_baiona.png"),
    "--model",
    model,
    "--out",
    out,
    "--max-tiles",
    "0",
    "--max-tokens",
    "3",
  ]);
  assert.equal(r.status, 0, r.stderr);
  const events = r.stderr
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    events.map((e) => e.event),
    ["start", "document", "retry", "page", "document_done", "end"],
  );
  assert.equal(events[3].retried, true);
});

test("usage errors say what to do", () => {
  // No model in an empty Hugging Face cache, offline: the error names the command that fetches it.
  const r = dsocr([join(CORPUS, "pdf", "letter_moderncv.pdf")], { HF_HOME: tempDir(), HF_HUB_OFFLINE: "1" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^dsocr: .*deepseek-ai\/DeepSeek-OCR-2.*dsocr download deepseek-ai\/DeepSeek-OCR-2/);
  const bad = dsocr(["x.pdf", "--model", model, "--max-tiles", "9"]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--max-tiles must be between 0 and 6/);
});

test("--json alone prints the records and keeps no files; with --out it keeps them too", () => {
  const cwd = tempDir();
  const image = join(CORPUS, "img", "gray_baiona.png");
  const base = [join(REPO, "bin", "dsocr.js"), image, "--model", model, "--max-tiles", "0", "--max-tokens", "2"];
  const r = spawnSync(process.execPath, [...base, "--json", "--progress", "none"], { encoding: "utf8", cwd });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.documents[0].pages.length, 1);
  assert.equal(result.tokens.length, 2);
  assert.deepEqual(readdirSync(cwd), []);
  const out = join(cwd, "out");
  const kept = spawnSync(process.execPath, [...base, "--json", "--out", out, "--progress", "none"], {
    encoding: "utf8",
  });
  assert.equal(kept.status, 0, kept.stderr);
  assert.deepEqual(readdirSync(out).sort(), ["gray_baiona.det.md", "gray_baiona.json", "gray_baiona.md"]);
});
