// linear and conv2d of the native kernels vs the reference, every ISA level of this CPU.
// Tolerance: helpers.ts (rtol 1e-5 against max(|expected|, rms)).
import { describe, test } from "node:test";
import type { Conv2dParams, Weight } from "./deps.ts";
import { referenceKernels as ref } from "./deps.ts";
import { assertClose, nativeLevels, randArray, randWeight, rng } from "./helpers.ts";

const levels = nativeLevels();

describe("linear", () => {
  test("every m x k x n of the grid, bf16 and f32 weights, with and without bias", () => {
    const r = rng(1);
    for (const k of [1, 7, 33, 1000]) {
      for (const n of [1, 7, 33, 1025]) {
        for (const dtype of ["bf16", "f32"] as const) {
          const w = randWeight(r, dtype, n, k);
          const bias = randArray(r, n);
          for (const m of [1, 3, 7, 16, 33, 129]) {
            const x = randArray(r, m * k);
            for (const b of [null, bias]) {
              const expected = ref.linear(x, m, w, b);
              for (const K of levels) {
                assertClose(
                  K.linear(x, m, w, b),
                  expected,
                  `${K.name} linear m=${m} k=${k} n=${n} ${dtype} bias=${!!b}`,
                );
              }
            }
          }
        }
      }
    }
  });

  test("large m spans several row and column tiles and k slices", () => {
    const r = rng(2);
    for (const [m, k, n] of [
      [400, 300, 300],
      [17, 515, 77],
      [250, 64, 2304 / 8],
      [107, 1024, 70], // row stride a multiple of 4 KiB: x is packed, not read in place
    ]) {
      for (const dtype of ["bf16", "f32"] as const) {
        const w = randWeight(r, dtype, n, k);
        const x = randArray(r, m * k);
        const bias = randArray(r, n);
        const expected = ref.linear(x, m, w, bias);
        for (const K of levels)
          assertClose(K.linear(x, m, w, bias), expected, `${K.name} linear ${m}x${k}x${n} ${dtype}`);
      }
    }
  });

  test("x and the weight may be views into larger buffers (byteOffset != 0)", () => {
    const r = rng(3);
    const m = 20;
    const k = 45;
    const n = 19;
    const xs = randArray(r, m * k + 5).subarray(3, 3 + m * k);
    const full = randWeight(r, "bf16", n + 2, k);
    const w: Weight = { dtype: "bf16", data: (full.data as Uint16Array).subarray(k, k + n * k), rows: n, cols: k };
    const expected = ref.linear(xs, m, w, null);
    for (const K of levels) {
      assertClose(K.linear(xs, m, w, null), expected, `${K.name} linear views m=${m}`);
      assertClose(K.linear(xs.subarray(0, k), 1, w, null), ref.linear(xs.subarray(0, k), 1, w, null), `${K.name} m=1`);
    }
  });

  test("k = 0 gives the bias, m = 0 gives an empty result", () => {
    const w: Weight = { dtype: "f32", data: new Float32Array(0), rows: 3, cols: 0 };
    const bias = Float32Array.of(1, 2, 3);
    for (const K of levels) {
      assertClose(K.linear(new Float32Array(0), 2, w, bias), Float32Array.of(1, 2, 3, 1, 2, 3), `${K.name} k=0`);
      assertClose(K.linear(new Float32Array(0), 0, randWeight(rng(4), "bf16", 3, 5), null), new Float32Array(0), "m=0");
      // Packed formats too (decode-size and GEMM-size m).
      for (const format of ["bf16", "int8"] as const) {
        const p = K.packWeight({ dtype: "bf16", data: new Uint16Array(0), rows: 3, cols: 0 }, format);
        for (const m of [2, 40]) {
          const want = new Float32Array(3 * m).map((_, i) => bias[i % 3]);
          assertClose(K.linear(new Float32Array(0), m, p, bias), want, `${K.name} ${format} k=0 m=${m}`);
        }
      }
    }
  });
});

describe("conv2d", () => {
  const cases: Array<[string, Conv2dParams, number, "bf16" | "f32", boolean]> = [
    ["patch embed k16 s16 p0", { c: 3, h: 64, w: 48, k: 16, stride: 16, pad: 0 }, 32, "bf16", true],
    ["neck k1", { c: 48, h: 12, w: 12, k: 1, stride: 1, pad: 0 }, 20, "f32", false],
    ["neck k3 p1", { c: 16, h: 12, w: 11, k: 3, stride: 1, pad: 1 }, 24, "bf16", false],
    ["net_2 k3 s2 p1", { c: 16, h: 13, w: 13, k: 3, stride: 2, pad: 1 }, 40, "bf16", false],
    ["odd k3 s2 p0", { c: 5, h: 7, w: 9, k: 3, stride: 2, pad: 0 }, 3, "f32", true],
    ["k2 s3 p2", { c: 2, h: 5, w: 4, k: 2, stride: 3, pad: 2 }, 7, "f32", true],
    ["1x1x1", { c: 1, h: 1, w: 1, k: 1, stride: 1, pad: 0 }, 1, "f32", true],
    ["16 pixels (decode-size GEMM)", { c: 9, h: 4, w: 4, k: 1, stride: 1, pad: 0 }, 33, "bf16", true],
    ["many pixels", { c: 8, h: 40, w: 37, k: 3, stride: 1, pad: 1 }, 17, "bf16", true],
  ];
  for (const [name, p, outC, dtype, withBias] of cases) {
    test(name, () => {
      const r = rng(name.length * 7919);
      const x = randArray(r, p.c * p.h * p.w);
      const w = randWeight(r, dtype, outC, p.c * p.k * p.k);
      const bias = withBias ? randArray(r, outC) : null;
      const expected = ref.conv2d(x, w, bias, p);
      for (const K of levels) assertClose(K.conv2d(x, w, bias, p), expected, `${K.name} conv2d ${name}`);
    });
  }
});
