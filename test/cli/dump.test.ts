/**
 * `--dump <dir>` writes the intermediates under the fixtures' tensor names, so a run can be diffed
 * tensor by tensor against cases/<case>/tensors.safetensors.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { compareWithFixture, FixtureCase } from "../helpers/fixture-case.ts";
import { FIXTURES, REPO, tempDir } from "../helpers/paths.ts";

test("--dump writes fixture-named tensors that match the official intermediates", () => {
  const fc = FixtureCase.load("v2_small_notiles");
  const dump = tempDir();
  execFileSync(process.execPath, [
    join(REPO, "bin", "dsocr.js"),
    join(FIXTURES, "images", "small.png"),
    "--model",
    join(FIXTURES, "models", "tiny-v2"),
    "--prompt",
    String(fc.json.infer_args.prompt),
    "--max-tokens",
    "2",
    "--precision",
    "f32",
    "--json",
    "--dump",
    dump,
  ]);
  const ckpt = openCheckpoint(join(dump, "small.p1.safetensors"));
  try {
    for (const name of ["sam.global.out", "qwen.global.out", "proj.global.out", "embeds.prefill", "logits.step0"]) {
      assert.ok(ckpt.has(name), name);
      compareWithFixture(fc, name, ckpt.readF32(name), ckpt.info(name).shape);
    }
  } finally {
    ckpt.close();
    fc.close();
  }
});
