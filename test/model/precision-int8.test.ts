/**
 * Accuracy of the int8 precision (language-model weights int8, symmetric, one scale per group of
 * INT8_GROUP k values of each row; see native/pack_int8.cc and reference.ts packWeightReference)
 * against the f32 parity path, on every
 * fixture case (tiny models), teacher-forced: both models get the stored `embeds.prefill`, then at
 * every step the f32 greedy token (first STEPS steps). Checked: the int8 greedy token equals the
 * f32 one wherever the f32 top1 - top2 margin exceeds twice the step's max |int8 - f32| logit
 * error (where no error of that size can flip it), and the logits stay within a gross-breakage
 * bound. Printed: max / mean relative logits errors (relative to max |f32 logit| and mean
 * |f32 logit|) and the steps where the top-1 differs although the f32 margin exceeds 1e-2
 * (issue 10's target; int8 does not meet it everywhere on these random tiny models).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import type { Checkpoint } from "../../src/checkpoint/types.ts";
import { loadConfig } from "../../src/config/config.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import { LanguageModel } from "../../src/model/language-model.ts";
import { FixtureCase, listCases, testKernels } from "../helpers/fixture-case.ts";
import { lmCaseInfo } from "../helpers/lm-case.ts";

/** f32 top1 - top2 margin of issue 10's target (reported). */
const MARGIN = 1e-2;
/** Decode steps compared per case (keeps the suite quick). */
const STEPS = 16;
/** Gross-breakage bound of max |int8 - f32| / max |f32| over a case's logits. */
const MAX_REL = 0.1;

const models = new Map<string, { f32: LanguageModel; int8: LanguageModel; ckpt: Checkpoint }>();
let kernels: Kernels | undefined;
const report: string[] = [];

async function modelsFor(fc: FixtureCase) {
  kernels ??= await testKernels();
  let m = models.get(fc.modelDir);
  if (!m) {
    const cfg = loadConfig(fc.modelDir);
    const ckpt = openCheckpoint(fc.modelDir);
    m = {
      f32: LanguageModel.load({ ckpt, k: kernels, precision: "f32", role: "lm" }, cfg.language),
      int8: LanguageModel.load({ ckpt, k: kernels, precision: "int8", role: "lm" }, cfg.language),
      ckpt,
    };
    models.set(fc.modelDir, m);
  }
  return m;
}

after(() => {
  for (const { ckpt } of models.values()) ckpt.close();
  console.log(`int8 vs f32 logits (kernels: ${kernels?.name}):\n${report.join("\n")}`);
});

function top2(x: Float32Array): { id: number; margin: number } {
  let a = 0;
  let b = -1;
  for (let i = 1; i < x.length; i++) {
    if (x[i] > x[a]) {
      b = a;
      a = i;
    } else if (b < 0 || x[i] > x[b]) {
      b = i;
    }
  }
  return { id: a, margin: x[a] - x[b] };
}

for (const name of listCases()) {
  test(`int8 precision follows f32 greedy decoding on ${name}`, async () => {
    const fc = FixtureCase.load(name);
    try {
      const { f32, int8 } = await modelsFor(fc);
      const info = lmCaseInfo(fc);
      const L = info.inputLen;
      const steps = Math.min(STEPS, info.generation.generated_ids.length);
      const embeds = fc.reference("embeds.prefill").data;
      const sf = f32.newState(L + steps + 1);
      const si = int8.newState(L + steps + 1);
      let lf = f32.prefill(sf, embeds, L);
      let li = int8.prefill(si, embeds, L);
      let worstMax = 0;
      let sumMean = 0;
      let pinned = 0;
      let agree = 0;
      const flips: string[] = [];
      for (let step = 0; step < steps; step++) {
        let maxAbs = 0;
        let maxRef = 0;
        let sumAbs = 0;
        let sumRef = 0;
        for (let i = 0; i < lf.length; i++) {
          const d = Math.abs(li[i] - lf[i]);
          maxAbs = Math.max(maxAbs, d);
          maxRef = Math.max(maxRef, Math.abs(lf[i]));
          sumAbs += d;
          sumRef += Math.abs(lf[i]);
        }
        const rel = maxAbs / maxRef;
        worstMax = Math.max(worstMax, rel);
        sumMean += sumAbs / sumRef;
        assert.ok(rel < MAX_REL, `${name} step ${step}: max relative logits error ${rel}`);
        const tf = top2(lf);
        const ti = top2(li);
        if (ti.id === tf.id) agree++;
        if (tf.margin > MARGIN) {
          pinned++;
          if (ti.id !== tf.id)
            flips.push(`step ${step} (margin ${tf.margin.toFixed(3)}, max err ${maxAbs.toFixed(3)})`);
        }
        if (tf.margin > 2 * maxAbs)
          assert.equal(ti.id, tf.id, `${name} step ${step}: int8 token (f32 margin ${tf.margin})`);
        if (step === steps - 1) break;
        lf = f32.decode(sf, tf.id);
        li = int8.decode(si, tf.id);
      }
      report.push(
        `  ${name}: ${steps} steps, max rel err ${worstMax.toExponential(2)}, mean rel err ${(sumMean / steps).toExponential(2)}, ` +
          `top1 equal ${agree}/${steps}; f32 margin > ${MARGIN}: ${pinned} steps, ` +
          `${flips.length ? `differs at ${flips.join(", ")}` : "all equal"}`,
      );
    } finally {
      fc.close();
    }
  });
}
