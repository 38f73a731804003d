/**
 * The CLI reproduces the official greedy tokens of every DeepSeek-OCR 2 fixture case:
 * `dsocr <image> --model tiny-v2 --prompt <infer_args.prompt> --max-tiles <0|6> --ngram-window all
 *  --max-tokens 32 --precision f32 --no-retry --json` prints `generation.generated_ids` as `tokens`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FIXTURES, REPO } from "../helpers/paths.ts";

const cases = readdirSync(join(FIXTURES, "cases")).filter((c) => c.startsWith("v2_"));

for (const name of cases) {
  test(`dsocr --json reproduces the greedy tokens of ${name}`, () => {
    const dir = join(FIXTURES, "cases", name);
    const c = JSON.parse(readFileSync(join(dir, "case.json"), "utf8"));
    const image = join(dir, c.image.file);
    const out = execFileSync(
      process.execPath,
      [
        join(REPO, "bin", "dsocr.js"),
        image,
        "--model",
        join(FIXTURES, "models", "tiny-v2"),
        "--prompt",
        c.infer_args.prompt,
        "--max-tiles",
        c.infer_args.crop_mode ? "6" : "0",
        "--ngram-window",
        "all",
        "--max-tokens",
        "32",
        "--precision",
        "f32",
        "--no-retry",
        "--json",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    const result = JSON.parse(out);
    const expected: number[] = c.generation.generated_ids;
    const steps: { margin: number }[] = c.generation.steps;
    // Exact while the reference step margin exceeds 1e-3 (fixtures README, tolerances).
    let n = 0;
    while (n < expected.length && steps[n].margin > 1e-3) n++;
    assert.deepEqual(result.tokens.slice(0, n), expected.slice(0, n));
    if (n === expected.length) assert.deepEqual(result.tokens, expected);
    assert.equal(result.documents[0].pages[0].usage.prompt_tokens, c.input_len);
  });
}
