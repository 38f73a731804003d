/**
 * Language-model mechanics on the tiny-v2 checkpoint (spec 6, 8.1): embedding lookup, layer
 * kinds, KV-cache continuity (chunked prefill and decode equal one long prefill), dumps, errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { loadConfig } from "../../src/config/config.ts";
import { bf16ToF32 } from "../../src/kernels/reference.ts";
import { SwiGluMlp } from "../../src/model/blocks/mlp.ts";
import { MemoryDump } from "../../src/model/dump.ts";
import { isMoeLayer, LanguageModel, lmDumpRows } from "../../src/model/language-model.ts";
import { DeepseekMoe } from "../../src/model/moe.ts";
import { testKernels } from "../helpers/fixture-case.ts";
import { FIXTURES } from "../helpers/paths.ts";

const MODEL = join(FIXTURES, "models", "tiny-v2");
let ckpt: ReturnType<typeof openCheckpoint>;
let lm: LanguageModel;

before(async () => {
  ckpt = openCheckpoint(MODEL);
  lm = LanguageModel.load({ ckpt, k: await testKernels() }, loadConfig(MODEL).language);
});
after(() => ckpt.close());

/** A prompt-like sequence: token embeddings of some ids. */
function sequence(n: number): { ids: number[]; x: Float32Array } {
  const ids = Array.from({ length: n }, (_, i) => (i * 7919 + 13) % lm.vocabSize);
  return { ids, x: lm.embed(ids) };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test("layer kinds follow first_k_dense_replace; dims come from the config", () => {
  const cfg = lm.config;
  assert.equal(lm.layers.length, cfg.numHiddenLayers);
  assert.equal(lm.headDim, cfg.hiddenSize / cfg.numAttentionHeads);
  for (let i = 0; i < lm.layers.length; i++) {
    const ffn = lm.layers[i].ffn;
    if (isMoeLayer(cfg, i)) {
      assert.ok(ffn instanceof DeepseekMoe, `layer ${i} is MoE`);
      assert.equal(ffn.experts.length, cfg.nRoutedExperts);
      assert.equal(ffn.shared?.gate.outDim, cfg.moeIntermediateSize * cfg.nSharedExperts);
    } else {
      assert.ok(ffn instanceof SwiGluMlp, `layer ${i} is dense`);
      assert.equal(ffn.gate.outDim, cfg.intermediateSize);
    }
  }
  assert.equal(isMoeLayer(cfg, 0), false);
  assert.equal(isMoeLayer(cfg, 1), true);
  assert.equal(isMoeLayer({ ...cfg, moeLayerFreq: 2 }, 1), false);
});

test("embed widens the bf16 rows of embed_tokens exactly", () => {
  const w = ckpt.readTyped("model.embed_tokens.weight") as Uint16Array;
  const h = lm.hiddenSize;
  const ids = [0, 1, 128815, lm.vocabSize - 1];
  const e = lm.embed(ids);
  for (let i = 0; i < ids.length; i++) {
    for (let c = 0; c < h; c++) assert.equal(e[i * h + c], bf16ToF32(w[ids[i] * h + c]));
  }
  assert.throws(() => lm.embed([lm.vocabSize]), RangeError);
  assert.throws(() => lm.embed([-1]), RangeError);
  assert.throws(() => lm.embed([1.5]), RangeError);
});

test("chunked prefill and decode continue positions and the KV cache (= one long prefill)", () => {
  const n = 40;
  const { ids, x } = sequence(n);
  const h = lm.hiddenSize;
  const whole = lm.newState(8); // small capacity: the caches must grow
  const ref = lm.prefill(whole, x, n);
  assert.equal(whole.position, n);

  const chunked = lm.newState();
  lm.prefill(chunked, x.slice(0, 17 * h), 17);
  const last = lm.prefill(chunked, x.slice(17 * h), n - 17);
  assert.equal(chunked.position, n);
  assert.ok(maxDiff(last, ref) < 1e-4, `chunked prefill differs by ${maxDiff(last, ref)}`);

  const stepwise = lm.newState();
  lm.prefill(stepwise, x.slice(0, 30 * h), 30);
  let logits: Float32Array = new Float32Array(0);
  for (let i = 30; i < n; i++) logits = lm.decode(stepwise, ids[i]);
  assert.equal(stepwise.position, n);
  assert.equal(stepwise.decodeSteps, n - 30);
  assert.ok(maxDiff(logits, ref) < 1e-4, `decode differs by ${maxDiff(logits, ref)}`);
  for (const c of stepwise.caches) assert.equal(c.length, n);
});

test("prefill dumps the fixture names; decode dumps logits.step{n} and its routing", () => {
  const n = 33;
  const { x } = sequence(n);
  const cfg = lm.config;
  const dump = new MemoryDump();
  const state = lm.newState();
  const logits = lm.prefill(state, x, n, dump);
  assert.deepEqual(Array.from(dump.tensors.get("lm.rows")?.data ?? []), [0, 16, 32]);
  assert.deepEqual(Array.from(lmDumpRows(n)), [0, 16, 32]);
  assert.deepEqual(Array.from(lmDumpRows(34)), [0, 16, 32, 33]);
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    assert.deepEqual(dump.tensors.get(`lm.layer${i}.out.rows`)?.shape, [3, cfg.hiddenSize]);
  }
  assert.deepEqual(dump.tensors.get("moe.layer1.router_scores")?.shape, [n, cfg.nRoutedExperts]);
  assert.deepEqual(dump.tensors.get("moe.layer2.topk_idx")?.shape, [n, cfg.numExpertsPerTok]);
  assert.deepEqual(dump.tensors.get("lm.norm.out.last")?.shape, [cfg.hiddenSize]);
  assert.deepEqual(dump.tensors.get("logits.step0")?.data, logits);
  for (const l of lm.layers) if (l.ffn instanceof DeepseekMoe) assert.equal(l.ffn.dump, undefined);

  const d1 = new MemoryDump();
  const l1 = lm.decode(state, 5, d1);
  assert.deepEqual(d1.tensors.get("logits.step1")?.data, l1);
  assert.deepEqual(d1.tensors.get("moe.layer1.step1.topk_idx")?.shape, [1, cfg.numExpertsPerTok]);
  assert.equal(d1.tensors.has("lm.rows"), false);
  lm.decode(state, 6, d1);
  assert.ok(d1.tensors.has("logits.step2"));
  assert.ok(d1.tensors.has("moe.layer2.step2.router_scores"));
});

test("bad inputs are rejected", () => {
  const state = lm.newState();
  assert.throws(() => lm.prefill(state, new Float32Array(lm.hiddenSize * 2), 3), RangeError);
  assert.throws(() => lm.prefill(state, new Float32Array(0), 0), RangeError);
  assert.throws(() => lm.decode(state, lm.vocabSize), RangeError);
  assert.equal(state.position, 0);
});

test("KV caches follow the precision: f32 keeps f32 (as before), bf16 and int8 store bf16; chunked = one prefill", async () => {
  for (const c of lm.newState().caches) assert.ok(c.k instanceof Float32Array && c.dtype === "f32");
  const cfg = loadConfig(MODEL).language;
  const k = await testKernels();
  for (const precision of ["bf16", "int8"] as const) {
    const m = LanguageModel.load({ ckpt, k, precision, role: "lm" }, cfg);
    const n = 40;
    const ids = Array.from({ length: n }, (_, i) => (i * 7919 + 13) % m.vocabSize);
    const x = m.embed(ids);
    const h = m.hiddenSize;
    const whole = m.newState(8);
    for (const c of whole.caches) assert.ok(c.k instanceof Uint16Array && c.v instanceof Uint16Array);
    const ref = m.prefill(whole, x, n);
    for (const c of whole.caches) assert.equal(c.bytes, 2 * c.capacity * c.width * 2);
    // Prefill of 30 rows then decode continues the bf16 caches: the same logits up to bf16 noise
    // (the f32 test above allows 1e-4; here the prefill's GEMM and tiled attention round differently
    // from decode's GEMV and decode attention, and a flipped bf16 rounding of an activation moves the
    // logits by ~1e-3 of their range, e.g. on AVX2). A cache appended at the wrong rows moves them by O(1).
    const stepwise = m.newState();
    m.prefill(stepwise, x.slice(0, 30 * h), 30);
    let logits: Float32Array = new Float32Array(0);
    for (let i = 30; i < n; i++) logits = m.decode(stepwise, ids[i]);
    const range = ref.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
    assert.ok(
      maxDiff(logits, ref) < 1e-2 * range,
      `${precision}: decode differs by ${maxDiff(logits, ref)} (range ${range})`,
    );
    // An f32 state can still be asked for explicitly.
    for (const c of m.newState(4, "f32").caches) assert.ok(c.k instanceof Float32Array);
  }
});
