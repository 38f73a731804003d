/**
 * safetensors dtype sizes and the exact bit-level conversions between bf16 / f16 / f32.
 * Little-endian host assumed (safetensors data is little-endian; Node runs on LE hosts only in practice).
 */
import { f32BitsToBf16Bits } from "../util/bf16.ts";
import type { DType } from "./types.ts";

export { f32BitsToBf16Bits, f32ToBf16Bits } from "../util/bf16.ts";

/** Bytes per element of every supported safetensors dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = Object.freeze({
  BF16: 2,
  F16: 2,
  F32: 4,
  I64: 8,
  I32: 4,
  U8: 1,
  I8: 1,
});

/** True when `s` names a dtype this project reads and writes (see {@link DTYPE_SIZE}). */
export function isDType(s: unknown): s is DType {
  return typeof s === "string" && Object.hasOwn(DTYPE_SIZE, s);
}

/**
 * Number of elements of a tensor of this shape (1 for a 0-d scalar).
 * @throws RangeError when a dimension is not a non-negative safe integer or the product is not a safe integer.
 */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new RangeError(`invalid dimension ${d} in shape [${shape.join(", ")}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new RangeError(`shape [${shape.join(", ")}] has too many elements`);
  return n;
}

/**
 * Exact widening bf16 -> f32: the f32 bit pattern is `bits << 16`.
 * @param src bf16 bit patterns, length n
 * @param dst optional output of length >= n
 * @returns f32 values, length n
 */
export function bf16ToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return dst;
}

/**
 * Rounds f32 values to bf16 (round to nearest, ties to even), as `torch.Tensor.to(torch.bfloat16)`.
 * @param src f32 values, length n
 * @param dst optional output of length >= n
 * @returns bf16 bit patterns, length n
 */
export function f32ToBf16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) dst[i] = f32BitsToBf16Bits(bits[i]);
  return dst;
}

/** One IEEE binary16 bit pattern to its exact value (subnormals, infinities and NaN included). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Exact widening f16 -> f32.
 * @param src IEEE binary16 bit patterns, length n
 * @param dst optional output of length >= n
 */
export function f16ToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  // 65536-entry table is 256 KB; build lazily once.
  const table = f16Table();
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]];
  return dst;
}

let f16TableCache: Float32Array | undefined;
function f16Table(): Float32Array {
  if (!f16TableCache) {
    f16TableCache = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16TableCache[h] = f16BitsToF32(h);
  }
  return f16TableCache;
}

/**
 * One number to the nearest IEEE binary16 bit pattern (round to nearest even, overflow to infinity).
 * Rounds directly from the double value (not via f32).
 */
export function f32ToF16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  let a = Math.abs(x);
  if (a === Number.POSITIVE_INFINITY) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // subnormal range: value = m * 2^-24, m in [0, 1024]
    const m = roundHalfEven(a * 2 ** 24);
    return sign | m; // m == 1024 becomes the smallest normal, which is the correct bit pattern
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  if (e > 15) return sign | 0x7c00;
  a = a / 2 ** e; // [1, 2)
  let m = roundHalfEven((a - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e += 1;
    if (e > 15) return sign | 0x7c00;
  }
  return sign | ((e + 15) << 10) | m;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
