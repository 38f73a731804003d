/**
 * The fused MoE layer (Kernels.fuseMoe, native/moe.cc) against the TypeScript DeepseekMoe path
 * (the reference): identical routing (scores, experts, weights) and outputs within rtol 1e-5
 * (test/kernels/helpers.ts assertClose), at every ISA level, on random layers (f32, bf16 and
 * int8-packed experts; decode-sized and prefill-sized m) and on the tiny fixture models' layers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { loadConfig } from "../../src/config/config.ts";
import { f32ToBf16 } from "../../src/kernels/reference.ts";
import type { Kernels, PackFormat, Weight } from "../../src/kernels/types.ts";
import { Linear } from "../../src/model/blocks/linear.ts";
import { SwiGluMlp } from "../../src/model/blocks/mlp.ts";
import { LanguageModel } from "../../src/model/language-model.ts";
import { DeepseekMoe, type MoeDims, MoeRouter } from "../../src/model/moe.ts";
import { FixtureCase, listCases } from "../helpers/fixture-case.ts";
import { assertClose, nativeLevels, randArray, rng } from "../kernels/helpers.ts";

const levels = nativeLevels();

function randWeight(r: () => number, rows: number, cols: number, dtype: "f32" | "bf16", scale = 1): Weight {
  const s = scale / Math.sqrt(cols);
  const f = randArray(r, rows * cols, -s * 1.7, s * 1.7);
  if (dtype === "f32") return { dtype, data: f, rows, cols };
  return { dtype, data: Uint16Array.from(f, (v) => f32ToBf16(v)), rows, cols };
}

function makeMoe(
  k: Kernels,
  dims: MoeDims,
  dtype: "f32" | "bf16",
  pack: PackFormat | null,
  seed: number,
  group?: number,
): DeepseekMoe {
  const r = rng(seed);
  const lin = (rows: number, cols: number) => {
    const w = randWeight(r, rows, cols, dtype);
    return new Linear(k, pack ? k.packWeight(w, pack, { group }) : w, null);
  };
  const mlp = (inter: number) =>
    new SwiGluMlp(k, lin(inter, dims.hidden), lin(inter, dims.hidden), lin(dims.hidden, inter));
  const experts = Array.from({ length: dims.nRoutedExperts }, () => mlp(dims.moeIntermediate));
  const shared = dims.nSharedExperts > 0 ? mlp(dims.moeIntermediate * dims.nSharedExperts) : null;
  const gate = randWeight(r, dims.nRoutedExperts, dims.hidden, dtype, 3);
  return new DeepseekMoe(k, 1, new MoeRouter(k, gate, dims), experts, shared);
}

function checkLayer(moe: DeepseekMoe, x: Float32Array, m: number, what: string): void {
  const fused = moe.fusedLayer();
  assert.ok(fused, `${what}: the native kernels fuse this layer`);
  const { nRoutedExperts: e, topK } = moe.dims;
  const routing = {
    scores: new Float32Array(m * e),
    idx: new Int32Array(m * topK),
    weight: new Float32Array(m * topK),
  };
  const got = fused.forward(x, m, routing);
  const want = moe.forwardRouted(x, m);
  assert.deepEqual(Array.from(routing.idx), Array.from(want.routing.idx), `${what}: experts`);
  assert.deepEqual(Array.from(routing.weight), Array.from(want.routing.weight), `${what}: weights`);
  assert.deepEqual(Array.from(routing.scores), Array.from(want.routing.scores), `${what}: scores`);
  assertClose(got, want.out, `${what}: output`);
  // forward() takes the fused path when no dump is attached.
  assertClose(moe.forward(x, m), want.out, `${what}: forward`);
}

test("fused MoE equals the TypeScript path on random layers (f32, bf16, int8 (groups 128, 32) and bf16 packs; m = 1 .. 40)", () => {
  const dims: MoeDims = {
    hidden: 72,
    nRoutedExperts: 10,
    nSharedExperts: 2,
    topK: 3,
    moeIntermediate: 36,
    normTopkProb: false,
    routedScalingFactor: 1.5,
  };
  const variants: { dtype: "f32" | "bf16"; pack: PackFormat | null; d: MoeDims; group?: number }[] = [
    { dtype: "f32", pack: null, d: dims },
    { dtype: "bf16", pack: null, d: { ...dims, normTopkProb: true } },
    { dtype: "bf16", pack: "int8", d: dims },
    { dtype: "bf16", pack: "int8", d: { ...dims, nSharedExperts: 0, hidden: 33, moeIntermediate: 17 } },
    { dtype: "f32", pack: "int8", d: dims, group: 32 }, // several int8 groups, the last one shorter
    { dtype: "bf16", pack: "bf16", d: dims },
    { dtype: "f32", pack: "bf16", d: { ...dims, nSharedExperts: 1, hidden: 33, moeIntermediate: 47 } },
  ];
  for (const K of levels) {
    variants.forEach((v, vi) => {
      const moe = makeMoe(K, v.d, v.dtype, v.pack, 100 + vi, v.group);
      const r = rng(200 + vi);
      for (const m of [1, 2, 5, 16, 17, 40]) {
        const x = randArray(r, m * v.d.hidden, -2, 2);
        checkLayer(moe, x, m, `${K.name} ${v.dtype}/${v.pack ?? "plain"} variant ${vi} m=${m}`);
      }
    });
  }
});

test("fused MoE equals the TypeScript path on the tiny fixture models (every MoE layer, f32 and int8)", () => {
  const dirs = new Set(
    listCases().map((n) => {
      const fc = FixtureCase.load(n);
      const d = fc.modelDir;
      fc.close();
      return d;
    }),
  );
  for (const dir of dirs) {
    const cfg = loadConfig(dir);
    const ckpt = openCheckpoint(dir);
    try {
      for (const K of levels) {
        for (const precision of ["f32", "int8"] as const) {
          const lm = LanguageModel.load({ ckpt, k: K, precision, role: "lm" }, cfg.language);
          const r = rng(7);
          let n = 0;
          for (const layer of lm.layers) {
            if (!(layer.ffn instanceof DeepseekMoe)) continue;
            for (const m of [1, 4, 23]) {
              checkLayer(
                layer.ffn,
                randArray(r, m * cfg.language.hiddenSize, -1, 1),
                m,
                `${dir} ${K.name} ${precision} layer ${layer.ffn.layerIndex} m=${m}`,
              );
            }
            n++;
          }
          assert.ok(n > 0, `${dir}: no MoE layer`);
        }
      }
    } finally {
      ckpt.close();
    }
  }
});
