// int8 packed weights (native/pack_int8.cc, gemm_int8.cc) vs the reference int8 pack and linear,
// every ISA level of this CPU (the AVX-512 level with and without the AVX512_VNNI kernels) and every
// group size the native kernels take (32, 64, 128 k values per scale). The input rows are quantised
// to int16 per group on both sides (reference quantizeRows, native quant_x).
// Quantisation: identical q and scales (read back out of the native panels, unpackInt8ForTests).
// linear: tolerance of helpers.ts (rtol 1e-5 against max(|expected|, rms)) plus an absolute
// 2e-8 * k (~ k/3 units of 2^-24: the f32 summation error of k products of magnitude <= 1, which
// the rms floor does not cover when n = 1); both sides multiply the same quantised values, only
// the f32 rounding and summation order differ.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PackedWeight, PlainWeight } from "../../src/kernels/types.ts";
import { quantizeRows, type RefPackedInt8, referenceKernels as ref, unpackInt8ForTests } from "./deps.ts";
import { assertClose, eachNativeVariant, nativeLevels, randArray, randWeight, rng } from "./helpers.ts";

const levels = nativeLevels();
const GROUPS = [32, 64, 128];

function identity(k: number): Float32Array {
  const x = new Float32Array(k * k);
  for (let i = 0; i < k; i++) x[i * k + i] = 1;
  return x;
}

describe("int8 packed linear", () => {
  test("quantisation equals the reference exactly (odd sizes, short last groups, bf16 and f32, ties round half up)", () => {
    const r = rng(11);
    const same = (w: PlainWeight, label: string) => {
      for (const group of GROUPS) {
        const expected = ref.packWeight(w, "int8", { group }).handle as RefPackedInt8;
        for (const K of levels) {
          const got = unpackInt8ForTests(K.packWeight(w, "int8", { group }));
          assert.deepEqual(Array.from(got.q), Array.from(expected.q), `${K.name} q ${label} g${group}`);
          assert.deepEqual(Array.from(got.scales), Array.from(expected.scales), `${K.name} scales ${label} g${group}`);
        }
      }
    };
    same({ dtype: "f32", data: Float32Array.from([127, 0.5, -0.5, 1.5, -1.5, 2.5]), rows: 1, cols: 6 }, "ties");
    same({ dtype: "f32", data: new Float32Array(6), rows: 2, cols: 3 }, "zero rows (scale 0)");
    for (const k of [1, 7, 33, 65, 100, 129, 200]) {
      for (const n of [1, 7, 33]) {
        for (const dtype of ["bf16", "f32"] as const) same(randWeight(r, dtype, n, k), `${n}x${k} ${dtype}`);
      }
    }
  });

  test("input rows: quantised to int16 per group (a row through an identity weight reads them back)", () => {
    // Through the weight 127 * I (int8 pack: q = 127, scale 1 in every group), row x comes back as
    // 127 * f32(qx * sx) up to rounding: quantizeRows' values.
    const r = rng(15);
    for (const k of [5, 64, 130]) {
      const eye = new Float32Array(k * k);
      for (let i = 0; i < k; i++) eye[i * k + i] = 127;
      const w: PlainWeight = { dtype: "f32", data: eye, rows: k, cols: k };
      for (const group of GROUPS) {
        for (const m of [1, 3, 17]) {
          const x = randArray(r, m * k);
          x[0] = 0.5; // ties and outliers inside a group
          x[1] = -3;
          const want = quantizeRows(x, m, k, group).map((v) => v * 127);
          for (const [label, K] of [["reference", ref] as const, ...levels.map((K) => [K.name, K] as const)]) {
            assertClose(K.linear(x, m, K.packWeight(w, "int8", { group })), want, `${label} k=${k} g${group} m=${m}`);
          }
        }
      }
    }
  });

  test("every group has its own scale (an outlier costs only its own group's precision)", () => {
    // One row of 256 small values with a single large one in the second group of 64.
    const k = 256;
    const data = new Float32Array(k);
    for (let c = 0; c < k; c++) data[c] = ((c % 13) - 6) / 1000;
    data[70] = 5;
    const w: PlainWeight = { dtype: "f32", data, rows: 1, cols: k };
    for (const K of [ref, ...levels]) {
      const deq = K.linear(identity(k), k, K.packWeight(w, "int8", { group: 64 }));
      for (let c = 0; c < k; c++) {
        const tol = c >= 64 && c < 128 ? 5 / 254 : 0.006 / 254; // half a step of the group's scale
        assert.ok(Math.abs(deq[c] - data[c]) <= tol * (1 + 1e-6), `${K.name} value ${c}: ${deq[c]} vs ${data[c]}`);
      }
    }
  });

  test("every m x k x n of the grid (small-m direct, dequantised-panel and large-m GEMM paths), with and without bias", () => {
    const r = rng(12);
    for (const k of [1, 7, 33, 200, 1000, 1283]) {
      for (const n of [1, 7, 33, 1025]) {
        const dtype = k % 2 ? "bf16" : "f32";
        const w = randWeight(r, dtype, n, k);
        const bias = randArray(r, n);
        for (const group of GROUPS) {
          const pref = ref.packWeight(w, "int8", { group });
          const packs = new Map(levels.map((K) => [K.name, K.packWeight(w, "int8", { group })]));
          for (const m of [1, 2, 3, 5, 7, 16, 17, 40]) {
            if (k * n * m > 4e6 && m > 3) continue; // keep the reference side quick
            if (group !== 128 && n > 33 && m > 2 && m !== 17) continue; // the other groups: fewer large cases
            const x = randArray(r, m * k);
            for (const b of [null, bias]) {
              const expected = ref.linear(x, m, pref, b);
              eachNativeVariant((K, label) => {
                assertClose(
                  K.linear(x, m, packs.get(K.name) as PackedWeight, b),
                  expected,
                  `${label} int8 g${group} m=${m} k=${k} n=${n} bias=${!!b}`,
                  undefined,
                  2e-8 * k,
                );
              });
            }
          }
        }
      }
    }
  });

  test("a NaN or an infinity in an input row makes that row's outputs NaN (not a finite value)", () => {
    const r = rng(16);
    const [k, n] = [200, 9];
    const w = randWeight(r, "bf16", n, k);
    for (const m of [1, 3, 17]) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const x = randArray(r, m * k);
        x[k + 150] = bad; // row 1 when m > 1 (group 1 of 2), else row 0 is all finite
        if (m === 1) x[150] = bad;
        const badRow = m === 1 ? 0 : 1;
        for (const [label, K] of [["reference", ref] as const, ...levels.map((K) => [K.name, K] as const)]) {
          const y = K.linear(x, m, K.packWeight(w, "int8"));
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              const v = y[i * n + j];
              assert.equal(Number.isNaN(v), i === badRow, `${label} m=${m} ${bad} row ${i} col ${j}: ${v}`);
            }
          }
        }
      }
    }
  });

  test("large m spans several x panels, weight-row blocks and dequantised row blocks", () => {
    const r = rng(13);
    const [m, k, n] = [37, 130, 1100];
    const w = randWeight(r, "bf16", n, k);
    const x = randArray(r, m * k);
    for (const group of GROUPS) {
      const expected = ref.linear(x, m, ref.packWeight(w, "int8", { group }));
      eachNativeVariant((K, label) => {
        assertClose(K.linear(x, m, K.packWeight(w, "int8", { group })), expected, `${label} g${group} ${m}x${k}x${n}`);
      });
    }
  });

  test("packed metadata and argument checks", () => {
    const r = rng(14);
    const w = randWeight(r, "f32", 5, 70);
    for (const K of levels) {
      const p = K.packWeight(w, "int8");
      assert.equal(p.format, "int8");
      assert.equal(p.rows, 5);
      assert.equal(p.cols, 70);
      assert.equal(p.bytes, 8 * 128 + 8 * 1 * 4); // 2 panels of 4 rows x K padded to 128, f32 scales [8, 1]
      assert.equal(K.packWeight(w, "int8", { group: 32 }).bytes, 8 * 128 + 8 * 3 * 4); // scales [8, ceil(70 / 32)]
      assert.throws(() => K.linear(new Float32Array(69), 1, p), RangeError);
      assert.throws(() => K.linear(new Float32Array(70), 1, p, new Float32Array(4)), RangeError);
      assert.throws(() => K.packWeight(p, "int8"), RangeError);
      for (const group of [0, 16, 48, 256, 1.5]) assert.throws(() => K.packWeight(w, "int8", { group }), RangeError);
    }
    assert.throws(() => ref.packWeight(w, "int8", { group: 0 }), RangeError);
  });
});
