/**
 * Unit tests of the DeepSeek-MoE block (spec 6.3): greedy top-k rules and the expert-grouped
 * forward against a plain per-token computation, on synthetic weights.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { f32ToBf16 } from "../../src/kernels/reference.ts";
import type { Kernels, Weight } from "../../src/kernels/types.ts";
import { Linear } from "../../src/model/blocks/linear.ts";
import { SwiGluMlp } from "../../src/model/blocks/mlp.ts";
import { MemoryDump } from "../../src/model/dump.ts";
import { DeepseekMoe, greedyTopK, type MoeDims, MoeRouter } from "../../src/model/moe.ts";
import { testKernels } from "../helpers/fixture-case.ts";

/** Deterministic N(0, 1)-ish values (xorshift + Box-Muller). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

function randWeight(r: () => number, rows: number, cols: number, dtype: "f32" | "bf16"): Weight {
  const scale = 1 / Math.sqrt(cols);
  if (dtype === "f32") {
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = r() * scale;
    return { dtype, data, rows, cols };
  }
  const data = new Uint16Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = f32ToBf16(r() * scale);
  return { dtype, data, rows, cols };
}

function randMlp(k: Kernels, r: () => number, hidden: number, inter: number, dtype: "f32" | "bf16"): SwiGluMlp {
  return new SwiGluMlp(
    k,
    new Linear(k, randWeight(r, inter, hidden, dtype), null),
    new Linear(k, randWeight(r, inter, hidden, dtype), null),
    new Linear(k, randWeight(r, hidden, inter, dtype), null),
  );
}

function makeMoe(k: Kernels, dims: MoeDims, dtype: "f32" | "bf16", seed: number): DeepseekMoe {
  const r = rng(seed);
  const experts = Array.from({ length: dims.nRoutedExperts }, () =>
    randMlp(k, r, dims.hidden, dims.moeIntermediate, dtype),
  );
  const shared =
    dims.nSharedExperts > 0 ? randMlp(k, r, dims.hidden, dims.moeIntermediate * dims.nSharedExperts, dtype) : null;
  const gate = randWeight(r, dims.nRoutedExperts, dims.hidden, dtype);
  // Sharper routing (as the fixture models' 3 N / sqrt(hidden) gate).
  if (gate.dtype === "f32") for (let i = 0; i < gate.data.length; i++) gate.data[i] *= 3;
  return new DeepseekMoe(k, 1, new MoeRouter(k, gate, dims), experts, shared);
}

/** Per-token reference: y = Σ_k w_k expert_k(x) + shared(x), each expert run on the single row. */
function naiveMoe(moe: DeepseekMoe, x: Float32Array, m: number): Float32Array {
  const { hidden, topK } = moe.dims;
  const { idx, weight } = moe.router.route(x, m);
  const out = new Float32Array(m * hidden);
  for (let r = 0; r < m; r++) {
    const xr = x.slice(r * hidden, (r + 1) * hidden);
    const acc = new Float64Array(hidden);
    for (let t = 0; t < topK; t++) {
      const y = moe.experts[idx[r * topK + t]].forward(xr, 1);
      for (let c = 0; c < hidden; c++) acc[c] += weight[r * topK + t] * y[c];
    }
    if (moe.shared) {
      const s = moe.shared.forward(xr, 1);
      for (let c = 0; c < hidden; c++) acc[c] += s[c];
    }
    for (let c = 0; c < hidden; c++) out[r * hidden + c] = acc[c];
  }
  return out;
}

test("greedyTopK: k largest, ties to the lower index, ascending output, raw weights x scaling", () => {
  const scores = Float32Array.from([
    // row 0: distinct
    0.1, 0.4, 0.05, 0.3, 0.15,
    // row 1: exact ties at 0.2 (indices 0, 2, 4): the two lowest indices win
    0.2, 0.1, 0.2, 0.3, 0.2,
  ]);
  const { idx, weight } = greedyTopK(scores, 2, 5, 3, false, 1);
  assert.deepEqual(Array.from(idx), [1, 3, 4, 0, 2, 3]);
  assert.deepEqual(Array.from(weight), Array.from(Float32Array.from([0.4, 0.3, 0.15, 0.2, 0.2, 0.3])));
  const scaled = greedyTopK(scores, 2, 5, 3, false, 2.5);
  assert.deepEqual(Array.from(scaled.idx), Array.from(idx));
  for (let i = 0; i < 6; i++) assert.equal(scaled.weight[i], Math.fround(weight[i] * 2.5));
});

test("greedyTopK: norm_topk_prob renormalises the chosen scores before scaling", () => {
  const scores = Float32Array.from([0.1, 0.4, 0.05, 0.3, 0.15]);
  const { idx, weight } = greedyTopK(scores, 1, 5, 2, true, 2);
  assert.deepEqual(Array.from(idx), [1, 3]);
  assert.ok(Math.abs(weight[0] - (0.4 / 0.7) * 2) < 1e-6);
  assert.ok(Math.abs(weight[1] - (0.3 / 0.7) * 2) < 1e-6);
  // k = 1 is never renormalised (MoEGate: `top_k > 1 and norm_topk_prob`).
  assert.equal(greedyTopK(scores, 1, 5, 1, true, 1).weight[0], Math.fround(0.4));
});

test("greedyTopK rejects bad k and mismatched lengths", () => {
  const s = new Float32Array(10);
  assert.throws(() => greedyTopK(s, 2, 5, 0, false, 1), RangeError);
  assert.throws(() => greedyTopK(s, 2, 5, 6, false, 1), RangeError);
  assert.throws(() => greedyTopK(s, 3, 5, 2, false, 1), RangeError);
});

test("router: f32 softmax scores over the routed experts, weights = the chosen scores", async () => {
  const k = await testKernels();
  const dims: MoeDims = {
    hidden: 8,
    nRoutedExperts: 6,
    nSharedExperts: 1,
    topK: 2,
    moeIntermediate: 4,
    normTopkProb: false,
    routedScalingFactor: 1,
  };
  const moe = makeMoe(k, dims, "f32", 7);
  const r = rng(99);
  const x = Float32Array.from({ length: 5 * 8 }, r);
  const { scores, idx, weight } = moe.router.route(x, 5);
  for (let row = 0; row < 5; row++) {
    let sum = 0;
    for (let e = 0; e < 6; e++) sum += scores[row * 6 + e];
    assert.ok(Math.abs(sum - 1) < 1e-6);
    assert.ok(idx[row * 2] < idx[row * 2 + 1]);
    for (let t = 0; t < 2; t++) assert.equal(weight[row * 2 + t], scores[row * 6 + idx[row * 2 + t]]);
    assert.ok(weight[row * 2] + weight[row * 2 + 1] < 1);
  }
});

for (const dtype of ["f32", "bf16"] as const) {
  test(`MoE grouped by expert equals the per-token sum (${dtype} weights)`, async () => {
    const k = await testKernels();
    const dims: MoeDims = {
      hidden: 16,
      nRoutedExperts: 8,
      nSharedExperts: 2,
      topK: 3,
      moeIntermediate: 6,
      normTopkProb: false,
      routedScalingFactor: 1,
    };
    const moe = makeMoe(k, dims, dtype, dtype === "f32" ? 1 : 2);
    const r = rng(5);
    for (const m of [1, 2, 37]) {
      const x = Float32Array.from({ length: m * dims.hidden }, r);
      const xCopy = x.slice();
      const got = moe.forward(x, m);
      assert.deepEqual(x, xCopy, "input left unchanged");
      const want = naiveMoe(moe, x, m);
      for (let i = 0; i < want.length; i++) {
        assert.ok(
          Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])),
          `m=${m} i=${i}: ${got[i]} vs ${want[i]}`,
        );
      }
    }
  });
}

test("MoE without shared experts, scaled and renormalised weights, routing dump", async () => {
  const k = await testKernels();
  const dims: MoeDims = {
    hidden: 12,
    nRoutedExperts: 5,
    nSharedExperts: 0,
    topK: 2,
    moeIntermediate: 4,
    normTopkProb: true,
    routedScalingFactor: 1.5,
  };
  const moe = makeMoe(k, dims, "f32", 11);
  assert.equal(moe.shared, null);
  const r = rng(3);
  const m = 9;
  const x = Float32Array.from({ length: m * dims.hidden }, r);
  const dump = new MemoryDump();
  moe.dump = { sink: dump, prefix: "moe.layer1" };
  const got = moe.forward(x, m);
  moe.dump = undefined;
  const want = naiveMoe(moe, x, m);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])));
  assert.deepEqual(dump.tensors.get("moe.layer1.router_scores")?.shape, [m, 5]);
  assert.deepEqual(dump.tensors.get("moe.layer1.topk_idx")?.shape, [m, 2]);
  const w = dump.tensors.get("moe.layer1.topk_weight")?.data as Float32Array;
  for (let row = 0; row < m; row++) assert.ok(Math.abs(w[row * 2] + w[row * 2 + 1] - 1.5) < 1e-5);
  assert.ok(dump.tensors.get("moe.layer1.topk_idx")?.data instanceof Int32Array);
  // No dump once cleared.
  const before = dump.tensors.get("moe.layer1.router_scores");
  moe.forward(x, m);
  assert.equal(dump.tensors.get("moe.layer1.router_scores"), before);
  assert.throws(() => moe.forward(x, m + 1), RangeError);
});
