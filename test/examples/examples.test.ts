/** Every script in examples/ runs against the tiny checkpoint and prints what it promises. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { CORPUS, FIXTURES, REPO } from "../helpers/paths.ts";

const MODEL = join(FIXTURES, "models", "tiny-v2");
const run = (script: string, ...args: string[]) =>
  execFileSync(process.execPath, ["--import", "tsx", join(REPO, "examples", script), ...args], {
    cwd: REPO,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });

test("examples/extract.ts prints the markdown and token count of an image", () => {
  const out = run("extract.ts", join(CORPUS, "img", "gray_baiona.png"), MODEL);
  assert.match(out, /\n64 tokens in \d+\.\d\d s\n$/);
});

test("examples/extract.ts prints every page of a PDF", () => {
  const out = run("extract.ts", join(REPO, "examples", "deepseek-ocr2-paper-p1-2.pdf"), MODEL);
  assert.match(out, /^## page 1 \(\d+x\d+ px, 64 tokens\)/);
  assert.match(out, /\n## page 2 \(/);
});

test("examples/stream.ts streams the text and reports how it ended", () => {
  const out = run("stream.ts", join(CORPUS, "img", "gray_baiona.png"), MODEL);
  assert.match(out, /\n\[48 tokens, token limit\]\n$/);
});
