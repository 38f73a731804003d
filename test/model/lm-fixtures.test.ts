/**
 * The DeepSeek-MoE language model against every fixture case (v2_* on tiny-v2, v1_* on tiny-v1),
 * starting from the stored `embeds.prefill` (the vision side is tested elsewhere):
 * prefill intermediates, routing, logits of steps 0-2, decode routing of steps 1-3, and 32 greedy
 * tokens (HF `no_repeat_ngram_size` 20 guard over the whole sequence where it changed the output).
 * Tolerances come from case.json and are never loosened (../shared/fixtures/README.md).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import type { Checkpoint } from "../../src/checkpoint/types.ts";
import { loadConfig } from "../../src/config/config.ts";
import { NGRAM_HF_INFER, NgramGuard } from "../../src/generate/ngram.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import { MemoryDump } from "../../src/model/dump.ts";
import { LanguageModel, lmDumpRows } from "../../src/model/language-model.ts";
import {
  assertClose,
  type CloseReport,
  compareWithFixture,
  FixtureCase,
  listCases,
  testKernels,
} from "../helpers/fixture-case.ts";
import { argmax, assertTopK, lmCaseInfo } from "../helpers/lm-case.ts";

/** Margin below which the reference's greedy choice is not pinned (README "Tolerances"). */
const MARGIN_PINNED = 1e-3;

const models = new Map<string, { lm: LanguageModel; ckpt: Checkpoint }>();
let kernels: Kernels | undefined;
const report: string[] = [];

async function modelFor(fc: FixtureCase): Promise<LanguageModel> {
  kernels ??= await testKernels();
  let m = models.get(fc.modelDir);
  if (!m) {
    const cfg = loadConfig(fc.modelDir);
    const ckpt = openCheckpoint(fc.modelDir);
    m = { lm: LanguageModel.load({ ckpt, k: kernels }, cfg.language), ckpt };
    models.set(fc.modelDir, m);
  }
  return m.lm;
}

after(() => {
  for (const { ckpt } of models.values()) ckpt.close();
  console.log(`LM fixture summary (kernels: ${kernels?.name}):\n${report.join("\n")}`);
});

function fmt(s: CloseReport): string {
  return `${s.maxAbs.toExponential(2)} (${(s.worstRatio * 100).toFixed(1)}% of tol)`;
}

function worse(a: CloseReport | null, b: CloseReport): CloseReport {
  return a && a.worstRatio >= b.worstRatio ? a : b;
}

for (const name of listCases()) {
  test(`LM matches fixture ${name}`, async () => {
    const t0 = performance.now();
    const fc = FixtureCase.load(name);
    try {
      const lm = await modelFor(fc);
      const info = lmCaseInfo(fc);
      const cfg = lm.config;
      const h = cfg.hiddenSize;
      const L = info.inputLen;
      assert.equal(info.inputIds.length, L);
      const errs: string[] = [];
      const embeds = fc.reference("embeds.prefill").data;
      assert.equal(embeds.length, L * h);

      // ---- prefill ----
      const dump = new MemoryDump();
      const state = lm.newState(L + 40);
      const logits0 = lm.prefill(state, embeds, L, dump);
      assert.equal(state.position, L);
      const get = (n: string) => {
        const t = dump.tensors.get(n);
        assert.ok(t, `${name}: the LM did not dump ${n}`);
        return t;
      };

      const rows = fc.readI32("lm.rows");
      assert.deepEqual(Array.from(get("lm.rows").data), Array.from(rows), "lm.rows");
      assert.deepEqual(Array.from(lmDumpRows(L)), Array.from(rows), "lmDumpRows");
      let worstHidden: CloseReport | null = null;
      for (let i = 0; i < cfg.numHiddenLayers; i++) {
        const t = get(`lm.layer${i}.out.rows`);
        worstHidden = worse(
          worstHidden,
          compareWithFixture(fc, `lm.layer${i}.out.rows`, t.data as Float32Array, t.shape),
        );
      }
      errs.push(`layers ${fmt(worstHidden!)}`);

      // Routing: identical except at the README's listed near-tie positions.
      const k = cfg.numExpertsPerTok;
      let worstRouter: CloseReport | null = null;
      let flips = 0;
      for (const [li, routing] of info.moeRouting) {
        assert.equal(routing.top_k, k);
        const ties = new Set(routing["near_tie_positions_gap_lt_1e-5"]);
        const scoresName = `moe.layer${li}.router_scores`;
        if (fc.has(scoresName)) {
          const t = get(scoresName);
          worstRouter = worse(worstRouter, compareWithFixture(fc, scoresName, t.data as Float32Array, t.shape));
        }
        const idxName = `moe.layer${li}.topk_idx`;
        const wName = `moe.layer${li}.topk_weight`;
        const ourIdx = get(idxName).data;
        const refIdx = fc.readI32(idxName);
        assert.equal(ourIdx.length, refIdx.length);
        const ourW: number[] = [];
        const refW: number[] = [];
        const ourWAll = get(wName).data;
        const refWAll = fc.reference(wName).data;
        for (let r = 0; r < L; r++) {
          let same = true;
          for (let j = 0; j < k; j++) if (ourIdx[r * k + j] !== refIdx[r * k + j]) same = false;
          if (!same) {
            assert.ok(ties.has(r), `${name} ${idxName}: row ${r} differs and is not a listed near tie`);
            flips++;
            continue;
          }
          for (let j = 0; j < k; j++) {
            ourW.push(ourWAll[r * k + j]);
            refW.push(refWAll[r * k + j]);
          }
        }
        worstRouter = worse(worstRouter, assertClose(ourW, refW, fc.tolerance(wName), `${name}: ${wName}`));
      }
      errs.push(`router ${fmt(worstRouter!)}${flips ? `, ${flips} near-tie flips` : ""}`);

      const norm = get("lm.norm.out.last");
      errs.push(`norm ${fmt(compareWithFixture(fc, "lm.norm.out.last", norm.data as Float32Array, norm.shape))}`);
      errs.push(`step0 ${fmt(compareWithFixture(fc, "logits.step0", logits0, [cfg.vocabSize]))}`);

      // ---- decode: steps 1 and 2 checked in full, then greedy ----
      const gen = info.generation;
      const guard = gen.guard_changed_output ? new NgramGuard(NGRAM_HF_INFER, info.inputIds) : null;
      if (guard) assert.equal(gen.no_repeat_ngram_size, NGRAM_HF_INFER.ngramSize);
      let logits = logits0;
      let pinned = 0;
      for (let step = 0; step < gen.generated_ids.length; step++) {
        let banned = 0;
        if (guard) {
          const ban = guard.banned();
          banned = ban.size;
          if (ban.size > 0) {
            logits = logits.slice();
            for (const id of ban) logits[id] = Number.NEGATIVE_INFINITY;
          }
        }
        const tok = argmax(logits);
        const stepInfo = gen.steps[step];
        assert.equal(stepInfo.step, step);
        if (!(stepInfo.margin > MARGIN_PINNED)) break; // the reference's choice is not pinned from here on
        assert.equal(tok, gen.generated_ids[step], `${name}: greedy token ${step} (margin ${stepInfo.margin})`);
        if (guard) assert.equal(banned, stepInfo.n_banned, `${name}: banned ids at step ${step}`);
        pinned++;
        if (step === gen.generated_ids.length - 1) break;
        guard?.push(tok);
        const ddump = step < 3 ? new MemoryDump() : undefined;
        logits = lm.decode(state, tok, ddump);
        assert.equal(state.position, L + step + 1);
        if (!ddump) continue;
        // Decode routing of steps 1-3 (case.json moe_routing.*.decode_steps_1_to_3_experts_sorted).
        for (const [li, routing] of info.moeRouting) {
          const got = ddump.tensors.get(`moe.layer${li}.step${step + 1}.topk_idx`);
          assert.ok(got, `decode routing dump of layer ${li}`);
          assert.deepEqual(
            Array.from(got.data),
            routing.decode_steps_1_to_3_experts_sorted[step],
            `${name}: experts of layer ${li} at decode step ${step + 1}`,
          );
        }
        if (step + 1 <= 2) {
          const n = `logits.step${step + 1}`;
          assert.equal(ddump.tensors.get(n)?.data.length, cfg.vocabSize);
          const sample = compareWithFixture(fc, n, logits, [cfg.vocabSize]);
          const top = assertTopK(
            `${name}: ${n}`,
            logits,
            fc.readI32(`${n}.top64_ids`),
            fc.reference(`${n}.top64_vals`).data,
            fc.tolerance(`${n}.top64_vals`),
          );
          errs.push(`step${step + 1} ${fmt(sample)} top64 ${fmt(top)}`);
        }
      }
      assert.ok(pinned >= 1, `${name}: no greedy step checked`);
      const ms = performance.now() - t0;
      report.push(
        `  ${name}: L=${L}, ${pinned}/${gen.generated_ids.length} greedy tokens equal (rest not pinned)` +
          `${guard ? ", HF n-gram guard" : ""}; ${errs.join("; ")}; ${(ms / 1000).toFixed(2)} s`,
      );
    } finally {
      fc.close();
    }
  });
}
