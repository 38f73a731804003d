/** `dsocr make-random` writes a checkpoint that the main job loads and runs. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FIXTURES, REPO, tempDir } from "../helpers/paths.ts";

function dsocr(args: string[]) {
  return spawnSync(process.execPath, [join(REPO, "bin", "dsocr.js"), ...args], { encoding: "utf8" });
}

test("make-random --preset tiny-v2 gives a checkpoint the engine runs", () => {
  const dir = join(tempDir(), "tiny");
  const r = dsocr(["make-random", "--preset", "tiny-v2", "--out", dir]);
  assert.equal(r.status, 0, r.stderr);
  for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
    assert.ok(existsSync(join(dir, f)), f);
  }
  const run = dsocr([join(FIXTURES, "images", "small.png"), "--model", dir, "--max-tokens", "3", "--json"]);
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.equal(out.tokens.length, 3);
  assert.equal(out.documents[0].pages[0].usage.prompt_tokens, 1 + 257 + 9);
});

test("make-random without a preset or config is a usage error", () => {
  const r = dsocr(["make-random", "--out", tempDir()]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--preset tiny-v2\|full-v2 or --config/);
});
