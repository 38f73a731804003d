// Norms, activations, softmax, rope and bf16 rounding of the native kernels vs the reference, every
// ISA level (roundBf16: bit for bit).
// Tolerance: helpers.ts (rtol 1e-5 against max(|expected|, rms)) unless stated: gelu must match
// to 1e-6 relative per element, without the rms floor, plus an absolute 1e-14: for x < -5 the
// reference's 1 + erf(x/√2) cancels in f64 (absolute error ~1e-16 · |x|, like PyTorch's formula)
// while the native kernels use erfc there; rope to 1e-6 (it repeats the reference's arithmetic).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { referenceKernels as ref } from "./deps.ts";
import { assertClose, nativeLevels, randArray, rng } from "./helpers.ts";

const levels = nativeLevels();
const COLS = [1, 7, 33, 768, 1000, 1025];

describe("norms", () => {
  test("layerNorm (offset data, odd sizes)", () => {
    const r = rng(11);
    for (const rows of [1, 3, 33]) {
      for (const cols of COLS) {
        const x = randArray(r, rows * cols, 2, 5); // mean far from zero
        const w = randArray(r, cols, 0.5, 1.5);
        const b = randArray(r, cols, -0.2, 0.2);
        const expected = ref.layerNorm(x, rows, cols, w, b, 1e-6);
        for (const K of levels)
          assertClose(K.layerNorm(x, rows, cols, w, b, 1e-6), expected, `${K.name} layerNorm ${rows}x${cols}`);
      }
    }
  });

  test("rmsNorm", () => {
    const r = rng(12);
    for (const rows of [1, 3, 33]) {
      for (const cols of COLS) {
        const x = randArray(r, rows * cols, -3, 3);
        const w = randArray(r, cols, -2, 2);
        const expected = ref.rmsNorm(x, rows, cols, w, 1e-6);
        for (const K of levels)
          assertClose(K.rmsNorm(x, rows, cols, w, 1e-6), expected, `${K.name} rmsNorm ${rows}x${cols}`);
      }
    }
  });

  test("rmsNorm of a zero row is zero (eps)", () => {
    for (const K of levels)
      assertClose(K.rmsNorm(new Float32Array(8), 1, 8, new Float32Array(8).fill(1), 1e-6), new Float32Array(8), K.name);
  });
});

describe("activations", () => {
  const sizes = [0, 1, 7, 33, 1000, 40000];

  function inputs(seed: number, n: number, lo: number, hi: number): Float32Array {
    return randArray(rng(seed + n), n, lo, hi);
  }

  test("gelu to 1e-6 on a dense grid over [-14, 14] and on random data", () => {
    const grid = new Float32Array(56001);
    for (let i = 0; i < grid.length; i++) grid[i] = -14 + i * 0.0005;
    const special = Float32Array.of(0, -0, 1e-30, -1e-30, 1e-8, 50, -50, 1e30, -1e30, Number.POSITIVE_INFINITY);
    for (const x of [grid, special, ...sizes.map((n) => inputs(21, n, -10, 10))]) {
      const expected = x.slice();
      ref.gelu(expected);
      for (const K of levels) {
        const y = x.slice();
        K.gelu(y);
        assertClose(y, expected, `${K.name} gelu n=${x.length}`, 1e-6, 1e-14, false);
      }
    }
  });

  for (const name of ["silu", "quickGelu"] as const) {
    test(name, () => {
      for (const n of sizes) {
        for (const [lo, hi] of [
          [-10, 10],
          [-100, 100],
        ]) {
          const x = inputs(22, n, lo, hi);
          const expected = x.slice();
          ref[name](expected);
          for (const K of levels) {
            const y = x.slice();
            K[name](y);
            assertClose(y, expected, `${K.name} ${name} n=${n} range ${hi}`, 1e-5, 1e-30);
          }
        }
      }
    });
  }

  test("swiglu and add", () => {
    for (const n of sizes) {
      const g = inputs(23, n, -8, 8);
      const u = inputs(24, n, -3, 3);
      const eg = ref.swiglu(g.slice(), u);
      const ea = g.slice();
      ref.add(ea, u);
      for (const K of levels) {
        const y = g.slice();
        const ret = K.swiglu(y, u);
        if (ret !== y) throw new Error("swiglu must return gate");
        assertClose(y, eg, `${K.name} swiglu n=${n}`, 1e-5, 1e-30);
        const a = g.slice();
        K.add(a, u);
        assertClose(a, ea, `${K.name} add n=${n}`, 0);
      }
    }
  });
});

describe("softmax", () => {
  test("rows x cols incl. a vocabulary-sized row, -inf entries and huge values", () => {
    const r = rng(31);
    const shapes: Array<[number, number]> = [
      [1, 1],
      [3, 7],
      [5, 33],
      [2, 1000],
      [4, 1025],
      [1, 129280],
    ];
    for (const [rows, cols] of shapes) {
      const x = randArray(r, rows * cols, -20, 20);
      if (cols > 3) {
        x[1] = Number.NEGATIVE_INFINITY;
        x[2] = 1e30;
        x[cols + 1] = -1e30;
      }
      const expected = x.slice();
      ref.softmax(expected, rows, cols);
      for (const K of levels) {
        const y = x.slice();
        K.softmax(y, rows, cols);
        assertClose(y, expected, `${K.name} softmax ${rows}x${cols}`, 1e-5, 1e-30);
      }
    }
  });
});

describe("rope", () => {
  test("heads, head dims, thetas, large positions", () => {
    const r = rng(41);
    for (const [rows, heads, headDim, theta] of [
      [1, 1, 2, 10000],
      [7, 3, 8, 10000],
      [33, 2, 64, 1e6],
      [5, 10, 128, 10000],
      [3, 1, 6, 500],
    ]) {
      const x = randArray(r, rows * heads * headDim);
      const pos = new Int32Array(rows);
      for (let i = 0; i < rows; i++) pos[i] = i === 0 ? 0 : Math.floor(r() * (i % 2 ? 9000 : 200000));
      const expected = x.slice();
      ref.rope(expected, rows, heads, headDim, pos, theta);
      for (const K of levels) {
        const y = x.slice();
        K.rope(y, rows, heads, headDim, pos, theta);
        assertClose(y, expected, `${K.name} rope ${rows}x${heads}x${headDim} theta ${theta}`, 1e-6);
      }
    }
  });
});

describe("roundBf16", () => {
  test("bit for bit the reference rule: ties to even, NaN, infinities, subnormals, overflow; offsets and odd lengths", () => {
    const r = rng(21);
    const specials = [
      0,
      -0,
      1,
      -1,
      1 + 2 ** -8,
      1 + 3 * 2 ** -8,
      -(1 + 2 ** -8),
      1e-40,
      -1e-45,
      3.4e38,
      -3.4e38,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      65504,
      2 ** -126,
    ];
    for (const K of [ref, ...levels]) assert.equal(typeof K.roundBf16, "function", `${K.name} has roundBf16`);
    const bits = new Uint32Array([0x7f800001, 0xffc00000, 0x7fbfffff, 0x3f808000, 0x3f818000, 0x7f7fffff]);
    for (const n of [1, 7, 16, 33, 1280, 40000]) {
      const x = randArray(r, n, -1e4, 1e4);
      for (let i = 0; i < n; i += 3) x[i] = specials[i % specials.length];
      const u = new Uint32Array(x.buffer);
      for (let i = 1; i < n; i += 5) u[i] = bits[i % bits.length];
      const offset = n % 5;
      const expected = new Uint16Array(n + 9).fill(0xabcd);
      ref.roundBf16?.(x, expected, offset);
      for (const K of levels) {
        const out = new Uint16Array(n + 9).fill(0xabcd);
        K.roundBf16?.(x, out, offset);
        assert.deepEqual(out, expected, `${K.name} roundBf16 n=${n}`);
        assert.throws(() => K.roundBf16?.(x, new Uint16Array(n + 1), 2), RangeError);
      }
    }
  });
});
