/**
 * Batched decode (issue 10): `LanguageModel.decodeBatch` over B sequences with caches of different
 * lengths gives, row by row, the logits that `decode` gives each sequence alone. Sequences join
 * (prefilled between steps) and leave the batch. Inputs: the fixtures' `embeds.prefill` of three
 * v2 cases (different prompt lengths) and the fixture's generated ids as the fed tokens.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { loadConfig } from "../../src/config/config.ts";
import { referenceKernels } from "../../src/kernels/reference.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import { LanguageModel, type LmState } from "../../src/model/language-model.ts";
import { FixtureCase, testKernels } from "../helpers/fixture-case.ts";
import { lmCaseInfo } from "../helpers/lm-case.ts";
import { FIXTURES } from "../helpers/paths.ts";

const MODEL = join(FIXTURES, "models", "tiny-v2");
/** Relative tolerance: max |batched - alone| / max |alone| per logits vector. */
const REL_TOL = 1e-5;

let ckpt: ReturnType<typeof openCheckpoint>;
let kernels: Kernels;
let lm: LanguageModel;

before(async () => {
  ckpt = openCheckpoint(MODEL);
  kernels = await testKernels();
  lm = LanguageModel.load({ ckpt, k: kernels }, loadConfig(MODEL).language);
});
after(() => ckpt.close());

function relDiff(a: Float32Array, ref: Float32Array): { rel: number; identical: boolean } {
  assert.equal(a.length, ref.length);
  let d = 0;
  let m = 0;
  let identical = true;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
    if (a[i] !== ref[i]) identical = false;
  }
  return { rel: d / m, identical };
}

interface Seq {
  name: string;
  embeds: Float32Array;
  len: number;
  tokens: number[];
}

function loadSeq(name: string): Seq {
  const fc = FixtureCase.load(name);
  try {
    const info = lmCaseInfo(fc);
    return {
      name,
      embeds: fc.reference("embeds.prefill").data,
      len: info.inputLen,
      tokens: info.generation.generated_ids,
    };
  } finally {
    fc.close();
  }
}

test("decodeBatch equals decode per sequence (3 fixture prompts of different lengths, joining and leaving)", () => {
  const seqs = ["v2_small_notiles", "v2_exif_jpeg", "v2_wide_tiles"].map(loadSeq);
  assert.notEqual(seqs[0].len, seqs[1].len);
  const steps = 8;
  // Alone: prefill, then `steps` decodes of the fixture's generated ids.
  const alone = seqs.map((s) => {
    const st = lm.newState(s.len + steps);
    lm.prefill(st, s.embeds, s.len);
    const out: Float32Array[] = [];
    for (let i = 0; i < steps; i++) out.push(lm.decode(st, s.tokens[i]));
    return out;
  });
  // Batched: A and B from step 0; C is prefilled after A and B's second step and joins; A leaves after its last step.
  const states: (LmState | null)[] = [null, null, null];
  const done = [0, 0, 0];
  const start = (i: number) => {
    const st = lm.newState(4); // small capacity: caches grow inside the batch
    lm.prefill(st, seqs[i].embeds, seqs[i].len);
    states[i] = st;
  };
  start(0);
  start(1);
  let worst = 0;
  let allIdentical = true;
  for (let round = 0; done.some((d) => d < steps); round++) {
    if (round === 2) start(2);
    const members = [0, 1, 2].filter((i) => states[i] && done[i] < steps);
    const out = lm.decodeBatch(
      members.map((i) => states[i] as LmState),
      members.map((i) => seqs[i].tokens[done[i]]),
    );
    members.forEach((i, r) => {
      const { rel, identical } = relDiff(out[r], alone[i][done[i]]);
      worst = Math.max(worst, rel);
      allIdentical &&= identical;
      assert.ok(rel <= REL_TOL, `${seqs[i].name} step ${done[i] + 1}: relative difference ${rel}`);
      done[i]++;
    });
  }
  for (let i = 0; i < 3; i++) {
    const st = states[i] as LmState;
    assert.equal(st.position, seqs[i].len + steps);
    assert.equal(st.decodeSteps, steps);
    for (const c of st.caches) assert.equal(c.length, seqs[i].len + steps);
  }
  console.log(
    `decodeBatch vs decode (${kernels.name}): worst relative ${worst.toExponential(2)}, identical ${allIdentical}`,
  );
});

/** A prompt-like sequence of n token embeddings. */
function shortSeq(lm2: LanguageModel, n: number, salt: number): Float32Array {
  return lm2.embed(Array.from({ length: n }, (_, i) => (i * 7919 + salt * 104729 + 13) % lm2.vocabSize));
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

function batchVsAlone(
  model: LanguageModel,
  b: number,
  steps: number,
): { worst: number; identical: boolean; tokensEqual: boolean } {
  const lens = Array.from({ length: b }, (_, i) => 3 + ((i * 5) % 11));
  const ids = (i: number, s: number) => (i * 31 + s * 977 + 7) % model.vocabSize;
  const batch = lens.map((n, i) => {
    const st = model.newState(n + steps);
    model.prefill(st, shortSeq(model, n, i), n);
    return st;
  });
  const single = lens.map((n, i) => {
    const st = model.newState(n + steps);
    model.prefill(st, shortSeq(model, n, i), n);
    return st;
  });
  let worst = 0;
  let identical = true;
  let tokensEqual = true;
  for (let s = 0; s < steps; s++) {
    const out = model.decodeBatch(
      batch,
      lens.map((_, i) => ids(i, s)),
    );
    for (let i = 0; i < b; i++) {
      const alone = model.decode(single[i], ids(i, s));
      const r = relDiff(out[i], alone);
      worst = Math.max(worst, r.rel);
      identical &&= r.identical;
      tokensEqual &&= argmax(out[i]) === argmax(alone);
    }
  }
  return { worst, identical, tokensEqual };
}

test("decodeBatch with the reference kernels is identical to decode (row-independent arithmetic)", () => {
  const ref = LanguageModel.load({ ckpt, k: referenceKernels }, loadConfig(MODEL).language);
  const r = batchVsAlone(ref, 3, 2);
  assert.ok(r.identical, `reference kernels: batched rows differ (relative ${r.worst})`);
});

test("decodeBatch with the test kernels: B = 1, 5, 16 identical, B = 20 (GEMM path) within tolerance", () => {
  for (const b of [1, 5, 16, 20]) {
    const r = batchVsAlone(lm, b, 2);
    console.log(`B = ${b} (${kernels.name}): worst relative ${r.worst.toExponential(2)}, identical ${r.identical}`);
    assert.ok(r.worst <= REL_TOL, `B = ${b}: relative difference ${r.worst}`);
  }
});

test("decodeBatch rejects bad input without touching the states", () => {
  const st = lm.newState();
  lm.prefill(st, shortSeq(lm, 3, 0), 3);
  assert.throws(() => lm.decodeBatch([], []), RangeError);
  assert.throws(() => lm.decodeBatch([st], [1, 2]), RangeError);
  assert.throws(() => lm.decodeBatch([st, st], [1, 2]), RangeError);
  assert.throws(() => lm.decodeBatch([st], [lm.vocabSize]), RangeError);
  assert.equal(st.position, 3);
  for (const c of st.caches) assert.equal(c.length, 3);
});

test("bf16 and int8 precisions (bf16 KV caches): decodeBatch gives decode's logits and tokens per sequence", () => {
  for (const precision of ["bf16", "int8"] as const) {
    const model = LanguageModel.load({ ckpt, k: kernels, precision, role: "lm" }, loadConfig(MODEL).language);
    assert.equal(model.kvDtype, "bf16");
    for (const b of [1, 5]) {
      const r = batchVsAlone(model, b, 3);
      console.log(
        `${precision} B = ${b} (${kernels.name}): worst relative ${r.worst.toExponential(2)}, identical ${r.identical}, tokens equal ${r.tokensEqual}`,
      );
      assert.ok(r.tokensEqual, `${precision} B = ${b}: a batched greedy token differs`);
      assert.ok(r.worst <= REL_TOL, `${precision} B = ${b}: relative difference ${r.worst}`);
    }
  }
});
