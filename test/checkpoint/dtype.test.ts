import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bf16ToF32,
  DTYPE_SIZE,
  f16BitsToF32,
  f16ToF32,
  f32BitsToBf16Bits,
  f32ToBf16,
  f32ToBf16Bits,
  f32ToF16Bits,
  isDType,
  numel,
} from "../../src/checkpoint/dtype.ts";

describe("dtype helpers", () => {
  test("sizes and names", () => {
    assert.deepEqual(DTYPE_SIZE, { BF16: 2, F16: 2, F32: 4, I64: 8, I32: 4, U8: 1, I8: 1 });
    assert.ok(isDType("BF16"));
    assert.ok(!isDType("F64"));
    assert.ok(!isDType("toString"));
    assert.equal(numel([]), 1);
    assert.equal(numel([129280, 1280]), 165478400);
    assert.equal(numel([3, 0, 2]), 0);
    assert.throws(() => numel([2, -1]), RangeError);
    assert.throws(() => numel([2.5]), RangeError);
  });

  test("bf16: exact widening and round-to-nearest-even", () => {
    assert.deepEqual(
      [...bf16ToF32(new Uint16Array([0x3f80, 0xbf80, 0x4049, 0x0000, 0x8000, 0x7f80]))],
      [1, -1, 3.140625, 0, -0, Number.POSITIVE_INFINITY],
    );
    // ties: 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7 -> even (1)
    assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80);
    // 1 + 3*2^-8 is halfway between 1+2^-7 (odd mantissa) and 1+2^-6 -> even (1 + 2^-6)
    assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
    assert.equal(f32ToBf16Bits(-2), 0xc000);
    assert.equal(f32ToBf16Bits(3.4e38), 0x7f80); // rounds up to infinity
    assert.equal(f32BitsToBf16Bits(0x7fc00001) & 0x7fc0, 0x7fc0); // NaN stays NaN
    const x = new Float32Array([0.1, -7.25, 1e-30, 65504]);
    const back = bf16ToF32(f32ToBf16(x));
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) <= Math.abs(x[i]) * 2 ** -8);
  });

  test("f16: exact decode incl. subnormals/inf/nan, RNE encode", () => {
    assert.equal(f16BitsToF32(0x3c00), 1);
    assert.equal(f16BitsToF32(0xc000), -2);
    assert.equal(f16BitsToF32(0x7bff), 65504);
    assert.equal(f16BitsToF32(0x0001), 2 ** -24);
    assert.equal(f16BitsToF32(0x03ff), 1023 * 2 ** -24);
    assert.equal(f16BitsToF32(0x7c00), Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(f16BitsToF32(0x7e00)));
    assert.equal(f32ToF16Bits(1), 0x3c00);
    assert.equal(f32ToF16Bits(65504), 0x7bff);
    assert.equal(f32ToF16Bits(65520), 0x7c00); // halfway to the next binade rounds to even = inf
    assert.equal(f32ToF16Bits(2 ** -24), 0x0001);
    assert.equal(f32ToF16Bits(2 ** -25), 0x0000); // tie -> even (0)
    assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie -> even
    assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(f32ToF16Bits(-0), 0x8000);
    // every finite f16 round-trips
    const all = new Uint16Array(65536).map((_, i) => i);
    const vals = f16ToF32(all);
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(vals[h])) continue;
      assert.equal(f32ToF16Bits(vals[h]), h, `f16 0x${h.toString(16)}`);
    }
  });
});
