/**
 * bfloat16 conversions, the one place the rounding rule lives: round to nearest, ties to even on
 * the f32 bits (as torch's `.to(torch.bfloat16)`); NaN stays a quiet NaN; values that overflow
 * round to ±inf. Used by the checkpoint reader/writer, the reference kernels, the pixel
 * preprocessing (spec 3.6: infer() casts the normalised views to bf16) and SAM's input.
 */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** One f32 bit pattern rounded to the nearest bf16 bit pattern. */
export function f32BitsToBf16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** One number rounded to f32 and then to bf16; returns the bf16 bit pattern. */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  return f32BitsToBf16Bits(u32Scratch[0]);
}

/** Widens one bf16 bit pattern to its exact value. */
export function bf16BitsToF32(bits: number): number {
  u32Scratch[0] = bits << 16;
  return f32Scratch[0];
}

/**
 * Rounds every value of `values` to bf16 and stores the widened value back, in place.
 * @returns the same array
 */
export function roundToBf16InPlace(values: Float32Array): Float32Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < u.length; i++) u[i] = f32BitsToBf16Bits(u[i]) << 16;
  return values;
}

/**
 * Rounds `src` to bf16 bit patterns (the rule of {@link f32BitsToBf16Bits}) into `dst` from `offset`.
 * @returns dst
 */
export function f32ArrayToBf16Bits(src: Float32Array, dst: Uint16Array, offset = 0): Uint16Array {
  if (offset < 0 || offset + src.length > dst.length) {
    throw new RangeError(`f32ArrayToBf16Bits: ${src.length} values at ${offset} do not fit in ${dst.length}`);
  }
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) dst[offset + i] = f32BitsToBf16Bits(u[i]);
  return dst;
}
