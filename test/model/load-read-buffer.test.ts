/**
 * Loading with a shared read buffer (LoadContext.readBuffer, as OcrEngine.load does): every weight
 * that gets packed is read into one reused buffer, and the stacked q/k/v rows straight into place.
 * The packed copies must not depend on it: on the tiny fixture, the language model (bf16 and int8)
 * and the vision encoder (bf16) give bit-identical outputs loaded either way.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { loadConfig } from "../../src/config/config.ts";
import type { Precision } from "../../src/kernels/types.ts";
import { type LoadContext, ReadBuffer } from "../../src/model/blocks/context.ts";
import { LanguageModel } from "../../src/model/language-model.ts";
import { VisionV2 } from "../../src/model/vision-v2.ts";
import { FixtureCase, testKernels } from "../helpers/fixture-case.ts";
import { randArray, rng } from "../kernels/helpers.ts";

const CASE = "v2_page_tiles";

for (const precision of ["bf16", "int8"] as Precision[]) {
  test(`${precision}: the language model loaded through a read buffer computes bit-identical logits`, async () => {
    const fc = FixtureCase.load(CASE);
    const k = await testKernels();
    const cfg = loadConfig(fc.modelDir);
    const ckpt = openCheckpoint(fc.modelDir);
    try {
      const run = (ctx: LoadContext) => {
        const lm = LanguageModel.load({ ...ctx, role: "lm" }, cfg.language);
        const st = lm.newState(16);
        const m = 5;
        const logits = lm.prefill(st, randArray(rng(7), m * lm.hiddenSize), m);
        return [...logits, ...lm.decode(st, 3)];
      };
      const buf = new ReadBuffer();
      const a = run({ ckpt, k, precision });
      const b = run({ ckpt, k, precision, readBuffer: buf });
      assert.ok(buf.bytes(0).buffer.byteLength > 0, "the buffer was used");
      assert.deepEqual(b, a);
    } finally {
      ckpt.close();
    }
  });
}

test("bf16: the vision encoder loaded through a read buffer encodes bit-identically", async () => {
  const fc = FixtureCase.load(CASE);
  const k = await testKernels();
  const cfg = loadConfig(fc.modelDir);
  const ckpt = openCheckpoint(fc.modelDir);
  try {
    const views = await fc.loadViews();
    const run = (ctx: LoadContext) =>
      VisionV2.load({ ...ctx, role: "vision" }, cfg).encodeImage({
        global: views.global.pixels,
        globalSize: views.global.size,
        tiles: [],
        tileSize: 768,
      });
    const a = run({ ckpt, k, precision: "bf16" });
    const b = run({ ckpt, k, precision: "bf16", readBuffer: new ReadBuffer() });
    assert.deepEqual([...b], [...a]);
  } finally {
    ckpt.close();
  }
});
