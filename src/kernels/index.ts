/**
 * Kernel selection. `getKernels()` returns the native kernels (C++ addon, best ISA level of this
 * CPU, or the lower level named by DSOCR_ISA). `DSOCR_KERNELS=reference` selects the plain
 * TypeScript reference kernels instead (slow; for debugging and for machines without a compiler).
 */
import { createNativeKernels, defaultIsa, nativeAvailable } from "./native.ts";
import { referenceKernels } from "./reference.ts";
import type { Kernels, Precision } from "./types.ts";

export type { IsaLevel } from "./native.ts";
export { cpuFeatures, createNativeKernels, defaultIsa, nativeAvailable, supportedIsaLevels } from "./native.ts";
export { referenceKernels } from "./reference.ts";
export type { AttentionParams, Conv2dParams, Kernels, Weight } from "./types.ts";

let native: Kernels | null = null;

/**
 * The kernels the engine should use. Throws (with the advice to run `npm run build:native`) when
 * the addon is not built, unless DSOCR_KERNELS=reference asks for the reference kernels.
 */
export function getKernels(): Kernels {
  const sel = process.env.DSOCR_KERNELS;
  if (sel === "reference") return referenceKernels;
  if (sel !== undefined && sel !== "" && sel !== "native") {
    throw new Error(`DSOCR_KERNELS must be "native" or "reference", got "${sel}"`);
  }
  if (!native) native = createNativeKernels();
  return native;
}

/**
 * The precision a run uses when none is asked for (issue 10): `bf16` wherever the native kernels
 * run with SIMD (AVX-512 or AVX2): `vdpbf16ps` on AVX-512 BF16, elsewhere widened bf16 pairs on
 * f32 FMAs, which measured as fast as f32 for encode and prefill while decode reads half the bytes
 * (twice the tokens/s) and the weights take 6.8 GB instead of 13.6 (BENCHMARKS.md, the AVX2 run).
 * `f32` (exact parity with the official code) with the scalar level and the reference kernels.
 */
export function defaultPrecision(): Precision {
  if (process.env.DSOCR_KERNELS === "reference" || !nativeAvailable()) return "f32";
  return defaultIsa() === "scalar" ? "f32" : "bf16";
}
