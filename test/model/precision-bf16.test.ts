/**
 * bf16 precision on the tiny fixture v2_page_tiles: the whole pipeline (SAM with packed convs,
 * Qwen2 encoder, projector, language model) loaded with `precision: "bf16"` and run on the case's
 * views, prefill, then 32 decode steps teacher-forced with the official f32 tokens.
 *
 * Printed (not asserted: bf16 and f32 differ by design, and the official bf16 run is a loose
 * reference that itself diverges at step 2 on this random model): step-0 logits max / mean relative
 * error vs the f32 reference `logits.step0`, and vs `bf16_logits.safetensors` (sampled logits,
 * argmax, top-10 overlap); over all teacher-forced steps, the max and mean relative error vs our f32
 * language model (the bf16 KV cache's effect shows here).
 *
 * Asserted: at every step where the official f32 top1 - top2 margin exceeds both 1e-2 (issue 10's
 * threshold) and twice the step's max |bf16 - f32| logit error (our own f32 language model,
 * teacher-forced alongside), the bf16 argmax is the f32 token. A flip with a
 * margin above 1e-2 but below the measured error is printed, not failed: on these tiny random
 * models the bf16 logit error (~0.3) exceeds many margins, and where it flips depends on the
 * accumulation order of the ISA level and on the KV cache (with the f32 cache AVX2 flipped step 17,
 * margin 0.039; with the bf16 cache of the bf16 precision no level flips a step).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { loadConfig } from "../../src/config/config.ts";
import { LanguageModel } from "../../src/model/language-model.ts";
import { VisionV2 } from "../../src/model/vision-v2.ts";
import { FixtureCase, testKernels } from "../helpers/fixture-case.ts";
import { argmax, lmCaseInfo, topKDesc } from "../helpers/lm-case.ts";

const CASE = "v2_page_tiles";
const MARGIN = 1e-2;

function relErr(
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  idx?: ArrayLike<number>,
): { max: number; mean: number } {
  let ss = 0;
  const n = idx ? idx.length : ref.length;
  for (let i = 0; i < n; i++) ss += ref[i] * ref[i];
  const rms = Math.sqrt(ss / n);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const o = ours[idx ? idx[i] : i];
    const e = Math.abs(o - ref[i]) / Math.max(Math.abs(ref[i]), rms);
    max = Math.max(max, e);
    sum += e;
  }
  return { max, mean: sum / n };
}

test(`bf16 precision on ${CASE}: logits close to f32, greedy tokens equal where the f32 margin exceeds ${MARGIN} and the error`, async () => {
  const fc = FixtureCase.load(CASE);
  const k = await testKernels();
  const cfg = loadConfig(fc.modelDir);
  const ckpt = openCheckpoint(fc.modelDir);
  try {
    const ctx = { ckpt, k, precision: "bf16" as const };
    const vision = VisionV2.load({ ...ctx, role: "vision" }, cfg);
    const lm = LanguageModel.load({ ...ctx, role: "lm" }, cfg.language);
    const views = await fc.loadViews();
    const img = vision.encodeImage({
      global: views.global.pixels,
      globalSize: views.global.size,
      tiles: views.tiles.map((t) => t.pixels),
      tileSize: views.tiles[0]?.size ?? 768,
    });
    const info = lmCaseInfo(fc);
    const ids = info.inputIds;
    const L = info.inputLen;
    const h = lm.hiddenSize;
    const imageId = (fc.json as unknown as { image_token_id: number }).image_token_id;
    const embeds = lm.embed(ids);
    let row = 0;
    for (let i = 0; i < L; i++) {
      if (ids[i] !== imageId) continue;
      embeds.set(img.subarray(row * h, (row + 1) * h), i * h);
      row++;
    }
    assert.equal(row * h, img.length, "image rows = <image> positions");

    const gen = info.generation;
    const tokens = gen.generated_ids;
    const state = lm.newState(L + tokens.length + 1);
    let logits = lm.prefill(state, embeds, L);
    // Our f32 language model on the official f32 prompt embeddings, teacher-forced alongside.
    const lm32 = LanguageModel.load({ ckpt, k, precision: "f32", role: "lm" }, cfg.language);
    const state32 = lm32.newState(L + tokens.length + 1);
    let logits32 = lm32.prefill(state32, fc.reference("embeds.prefill").data, L);
    const lines: string[] = [`bf16 precision on ${CASE} (kernels ${k.name}):`];

    // Step 0 vs the f32 reference and the official bf16 run.
    const f32ref = fc.reference("logits.step0");
    const idx = f32ref.stride > 1 ? Array.from({ length: f32ref.data.length }, (_, i) => i * f32ref.stride) : undefined;
    const e32 = relErr(logits, f32ref.data, idx);
    lines.push(
      `  step 0 vs f32 logits: max rel err ${e32.max.toExponential(2)}, mean ${e32.mean.toExponential(2)} (rel to max(|ref|, rms))`,
    );
    const bf = openCheckpoint(join(fc.dir, "bf16_logits.safetensors"));
    try {
      const sample = bf.readF32("logits.step0.sample", [4040]);
      const stride = Math.ceil(logits.length / 4040);
      const sidx = Array.from({ length: 4040 }, (_, i) => i * stride);
      const eb = relErr(logits, sample, sidx);
      const b = bf.readBytes("logits.step0.top1024_ids");
      const topIds = Array.from(new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
      const ours10 = topKDesc(logits, 10);
      const overlap = ours10.filter((t) => topIds.slice(0, 10).includes(t)).length;
      lines.push(
        `  step 0 vs official bf16 (loose; sample stride ${stride}): max rel err ${eb.max.toExponential(2)}, mean ${eb.mean.toExponential(2)}; ` +
          `argmax ours ${ours10[0]} official ${topIds[0]} f32 ${tokens[0]}; top-10 overlap ${overlap}/10`,
      );
    } finally {
      bf.close();
    }

    // Teacher-forced steps.
    let pinned = 0;
    const diffs: string[] = [];
    let stepMax = 0;
    let stepMeanSum = 0;
    for (let s = 0; s < tokens.length; s++) {
      if (s > 0) {
        logits = lm.decode(state, tokens[s - 1]);
        logits32 = lm32.decode(state32, tokens[s - 1]);
      }
      let maxAbs = 0;
      for (let i = 0; i < logits.length; i++) maxAbs = Math.max(maxAbs, Math.abs(logits[i] - logits32[i]));
      const es = relErr(logits, logits32);
      stepMax = Math.max(stepMax, es.max);
      stepMeanSum += es.mean;
      const st = gen.steps[s];
      const top = topKDesc(logits, 2);
      const ours = argmax(logits);
      const margin = logits[top[0]] - logits[top[1]];
      if (ours !== tokens[s])
        diffs.push(
          `step ${s}: ours ${ours} (margin ${margin.toFixed(3)}) f32 ${tokens[s]} (f32 margin ${st.raw_margin.toFixed(4)}, max logit err ${maxAbs.toFixed(3)})`,
        );
      if (st.raw_margin > MARGIN && st.raw_margin > 2 * maxAbs && st.n_banned === 0) {
        pinned++;
        assert.equal(
          ours,
          tokens[s],
          `step ${s}: bf16 argmax ${ours} != f32 token ${tokens[s]} (f32 margin ${st.raw_margin})`,
        );
      }
    }
    lines.push(
      `  all ${tokens.length} steps vs our f32 language model (same tokens): max rel err ${stepMax.toExponential(2)}, mean ${(stepMeanSum / tokens.length).toExponential(2)}`,
    );
    lines.push(
      `  teacher-forced greedy: ${pinned}/${tokens.length} steps pinned (f32 margin > ${MARGIN} and > 2x the max logit error), argmax differs at ${diffs.length} step(s)${diffs.length ? `: ${diffs.join("; ")}` : ""}`,
    );
    console.log(lines.join("\n"));
  } finally {
    ckpt.close();
    fc.close();
  }
});
