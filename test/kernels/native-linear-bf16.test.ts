// The native bf16 packed weights (packWeight "bf16": native/pack_bf16.cc, gemm_bf16-inl.h) vs the
// reference bf16 semantics (input rows rounded to bf16, bf16 x bf16 products accumulated in f32),
// at every ISA level of this CPU; at the AVX-512 level both the vdpbf16ps kernels (where the CPU has
// AVX512_BF16) and the AVX-512F widening kernels. Tolerance: helpers.ts (rtol 1e-5).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { setBf16DotForTests } from "../../src/kernels/native.ts";
import type { Conv2dParams, PlainWeight } from "./deps.ts";
import { referenceKernels as ref } from "./deps.ts";
import { assertClose, eachNativeVariant, nativeLevels, randArray, randWeight, rng } from "./helpers.ts";

const levels = nativeLevels();
const eachVariant = eachNativeVariant;

after(() => setBf16DotForTests(true));

describe("packWeight bf16 (native)", () => {
  test("packs into a native handle with the packed size and drops nothing the result needs", () => {
    const w = randWeight(rng(1), "bf16", 33, 7);
    for (const K of levels) {
      const p = K.packWeight(w, "bf16");
      assert.equal(p.dtype, "packed");
      assert.equal(p.format, "bf16");
      assert.equal(p.rows, 33);
      assert.equal(p.cols, 7);
      // 2 panels of 32 rows x 4 k-pairs x 4 bytes
      assert.equal(p.bytes, 2 * 4 * 32 * 4);
      const x = randArray(rng(2), 3 * 7);
      const expected = ref.linear(x, 3, ref.packWeight(w, "bf16"), null);
      (w.data as Uint16Array).fill(0); // the original buffer is not used after packing
      assertClose(K.linear(x, 3, p, null), expected, `${K.name} after clearing the source`);
      (w.data as Uint16Array).set(randWeight(rng(1), "bf16", 33, 7).data as Uint16Array);
    }
  });

  test("rejects a packed input and foreign handles", () => {
    const w = randWeight(rng(3), "f32", 4, 4);
    for (const K of levels) {
      const p = K.packWeight(w, "bf16");
      assert.throws(() => K.packWeight(p, "bf16"), RangeError);
      assert.throws(() => K.linear(new Float32Array(5), 1, p, null), RangeError);
    }
  });
});

describe("linear with bf16 packed weights", () => {
  test("every m x k x n of the grid (odd sizes), bf16 and f32 sources, with and without bias", () => {
    const r = rng(11);
    for (const k of [1, 7, 33, 1000]) {
      for (const n of [1, 7, 33, 1025]) {
        for (const dtype of ["bf16", "f32"] as const) {
          const w = randWeight(r, dtype, n, k);
          const refPacked = ref.packWeight(w, "bf16");
          const bias = randArray(r, n);
          const packs = levels.map((K) => K.packWeight(w, "bf16"));
          for (const m of [1, 2, 7, 13, 14, 15, 16, 33, 129]) {
            const x = randArray(r, m * k);
            for (const b of [null, bias]) {
              const expected = ref.linear(x, m, refPacked, b);
              eachVariant((K, label) => {
                const p = packs[levels.indexOf(K)];
                assertClose(K.linear(x, m, p, b), expected, `${label} m=${m} k=${k} n=${n} ${dtype} bias=${!!b}`);
              });
            }
          }
        }
      }
    }
  });

  test("large m spans several row tiles, column chunks and k slices; packs are portable across levels", () => {
    const r = rng(12);
    for (const [m, k, n] of [
      [400, 300, 300],
      [17, 515, 77],
      [250, 64, 288],
      [1131, 257, 129],
      [229, 1031, 545],
    ]) {
      const w = randWeight(r, "bf16", n, k);
      const x = randArray(r, m * k, -4, 4);
      const bias = randArray(r, n);
      const expected = ref.linear(x, m, ref.packWeight(w, "bf16"), bias);
      const p = levels[levels.length - 1].packWeight(w, "bf16");
      eachVariant((K, label) => assertClose(K.linear(x, m, p, bias), expected, `${label} ${m}x${k}x${n}`));
    }
  });

  test("decode kernels (m <= 16) give exactly the GEMM path's values (same products, same order)", () => {
    const r = rng(15);
    for (const [k, n] of [
      [1280, 1100],
      [33, 70],
      [515, 1025],
    ]) {
      const w = randWeight(r, "bf16", n, k);
      const x = randArray(r, 17 * k, -4, 4);
      eachVariant((K, label) => {
        const p = K.packWeight(w, "bf16");
        const all = K.linear(x, 17, p); // 17 rows: the blocked GEMM
        for (const m of [1, 2, 3, 4, 5, 8, 16]) {
          const got = K.linear(x.subarray(0, m * k), m, p);
          assert.deepEqual(Array.from(got), Array.from(all.subarray(0, m * n)), `${label} m=${m} ${k}x${n}`);
        }
      });
    }
  });

  test("rounds the input to nearest even, NaN and infinities propagate", () => {
    const k = 40;
    const n = 3;
    const w: PlainWeight = { dtype: "f32", data: new Float32Array(n * k).fill(1), rows: n, cols: k };
    const x = new Float32Array(2 * k);
    // 1 + 2^-8 is a tie between bf16 1 and 1 + 2^-7: rounds to even (1); 1 + 3*2^-8 rounds up.
    x[0] = 1 + 2 ** -8;
    x[1] = 1 + 3 * 2 ** -8;
    x[k] = Number.NaN;
    x[k + 1] = Number.POSITIVE_INFINITY;
    const expected = ref.linear(x, 2, ref.packWeight(w, "bf16"), null);
    assert.equal(expected[0], 1 + (1 + 2 ** -6));
    eachVariant((K, label) => {
      const y = K.linear(x, 2, K.packWeight(w, "bf16"), null);
      assertClose(y, expected, `${label} rounding`);
      assert.ok(Number.isNaN(y[n]), `${label} NaN`);
    });
  });
});

describe("conv2d with bf16 packed weights", () => {
  const cases: Array<[string, Conv2dParams, number, boolean]> = [
    ["patch embed k16 s16 p0", { c: 3, h: 64, w: 48, k: 16, stride: 16, pad: 0 }, 32, true],
    ["neck k1", { c: 48, h: 12, w: 12, k: 1, stride: 1, pad: 0 }, 20, false],
    ["neck k3 p1", { c: 16, h: 12, w: 11, k: 3, stride: 1, pad: 1 }, 24, false],
    ["net_2 k3 s2 p1", { c: 16, h: 13, w: 13, k: 3, stride: 2, pad: 1 }, 40, false],
    ["odd k3 s2 p0", { c: 5, h: 7, w: 9, k: 3, stride: 2, pad: 0 }, 3, true],
    ["1x1x1", { c: 1, h: 1, w: 1, k: 1, stride: 1, pad: 0 }, 1, true],
    ["many pixels", { c: 8, h: 40, w: 37, k: 3, stride: 1, pad: 1 }, 33, true],
  ];
  for (const [name, p, outC, withBias] of cases) {
    test(name, () => {
      const r = rng(name.length * 104729);
      const x = randArray(r, p.c * p.h * p.w);
      const w = randWeight(r, "bf16", outC, p.c * p.k * p.k);
      const bias = withBias ? randArray(r, outC) : null;
      const expected = ref.conv2d(x, ref.packWeight(w, "bf16"), bias, p);
      eachVariant((K, label) =>
        assertClose(K.conv2d(x, K.packWeight(w, "bf16"), bias, p), expected, `${label} conv2d ${name}`),
      );
    });
  }
});

describe("linear into a caller's out array", () => {
  test("writes the same values into out (plain and packed weights, reference and native) and returns it", () => {
    const r = rng(41);
    const m = 37;
    const w = randWeight(r, "bf16", 70, 29);
    const x = randArray(r, m * 29);
    const bias = randArray(r, 70);
    for (const K of [ref, ...levels]) {
      for (const wt of [w, K.packWeight(w, "bf16")]) {
        const expected = K.linear(x, m, wt, bias);
        const out = new Float32Array(m * 70).fill(Number.NaN);
        const got = K.linear(x, m, wt, bias, out);
        assert.equal(got, out, `${K.name}: returns out`);
        assert.deepEqual(Array.from(out), Array.from(expected), `${K.name} ${wt.dtype}`);
        assert.throws(() => K.linear(x, m, wt, bias, new Float32Array(m * 70 + 1)), RangeError);
      }
    }
  });
});
