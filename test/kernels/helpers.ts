/**
 * Shared helpers of the kernel tests: a seeded RNG, random tensors, the tolerance check, and the
 * native kernel sets of every ISA level this machine supports.
 *
 * Tolerance (unless a test says otherwise): |actual - expected| <= rtol * max(|expected|, rms),
 * rtol = 1e-5, with rms the root mean square of the whole expected array. The rms floor keeps
 * elements that are near zero through cancellation from demanding more than f32 accumulation can
 * give; everything else is a plain relative comparison. NaN must match NaN.
 */
import assert from "node:assert/strict";
import { setBf16DotForTests } from "../../src/kernels/native.ts";
import type { Kernels, PlainWeight } from "./deps.ts";
import { createNativeKernels, f32ToBf16ForTests, supportedIsaLevels } from "./deps.ts";

export const RTOL = 1e-5;

/** mulberry32: deterministic uniform floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [lo, hi). */
export function randArray(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** A random [rows, cols] weight, values in [-scale, scale). */
export function randWeight(r: () => number, dtype: "bf16" | "f32", rows: number, cols: number, scale = 1): PlainWeight {
  const f = randArray(r, rows * cols, -scale, scale);
  if (dtype === "f32") return { dtype, data: f, rows, cols };
  const u = new Uint16Array(rows * cols);
  for (let i = 0; i < u.length; i++) u[i] = f32ToBf16ForTests(f[i]);
  return { dtype, data: u, rows, cols };
}

/**
 * Asserts actual ≈ expected (see the file comment). `absFloor` adds an absolute allowance;
 * `rmsFloor: false` makes the check purely relative per element.
 */
export function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  what: string,
  rtol = RTOL,
  absFloor = 0,
  rmsFloor = true,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let ss = 0;
  let finite = 0;
  for (let i = 0; i < expected.length; i++) {
    if (Number.isFinite(expected[i])) {
      ss += expected[i] * expected[i];
      finite++;
    }
  }
  const rms = finite && rmsFloor ? Math.sqrt(ss / finite) : 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) {
        worst = i;
        worstRatio = Number.POSITIVE_INFINITY;
        break;
      }
      continue;
    }
    if (a === e) continue;
    const tol = rtol * Math.max(Math.abs(e), rms) + absFloor;
    const ratio = Math.abs(a - e) / tol;
    if (!(ratio <= 1) && !(ratio <= worstRatio)) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(error ${worstRatio.toPrecision(3)} x the tolerance rtol=${rtol}, rms=${rms.toPrecision(4)})`,
    );
  }
}

/** The native kernel set of every ISA level this CPU supports (scalar first). */
export function nativeLevels(): Kernels[] {
  levelsMemo ??= supportedIsaLevels().map((isa) => createNativeKernels(isa));
  return levelsMemo;
}
let levelsMemo: Kernels[] | undefined;

/**
 * Runs f once per native kernel variant: every ISA level of this CPU, and the AVX-512 level once
 * more with the AVX512_BF16 dot-product kernels switched off (where the CPU has them), so that both
 * the vdpbf16ps and the widening paths are checked on one machine.
 */
export function eachNativeVariant(f: (K: Kernels, label: string) => void): void {
  const hasDot = setBf16DotForTests(true);
  for (const K of nativeLevels()) {
    f(K, K.name);
    if (hasDot && K.name === "native-avx512") {
      setBf16DotForTests(false);
      try {
        f(K, `${K.name}-nobf16dot`);
      } finally {
        setBf16DotForTests(true);
      }
    }
  }
}
