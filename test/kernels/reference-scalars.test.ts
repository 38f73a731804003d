import assert from "node:assert/strict";
import { test } from "node:test";
import { bf16ToF32, erf, f32ToBf16, ropeInvFreq } from "../../src/kernels/reference.ts";

test("bf16 rounding is round-to-nearest-even on the f32 bits", () => {
  assert.equal(f32ToBf16(1), 0x3f80);
  // 1 + 2^-8 is exactly halfway between bf16 1 and 1 + 2^-7: ties to even (1).
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd mantissa) and 1 + 2^-6: ties to even (up).
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(bf16ToF32(0xc000), -2);
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(Number.NaN))));
});

test("erf matches known values to double precision", () => {
  const known: [number, number][] = [
    [0.3, 0.3286267594591112],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [-0.5, -0.5204998778130465],
    [4.1, 0.9999999932999724],
  ];
  for (const [x, v] of known) assert.ok(Math.abs(erf(x) - v) < 1e-11, `erf(${x})`);
});

test("RoPE inverse frequencies follow 1 / theta^(2j/d) in f32", () => {
  const inv = ropeInvFreq(8, 10000);
  assert.equal(inv.length, 4);
  assert.equal(inv[0], 1);
  assert.equal(inv[2], Math.fround(1 / Math.fround(100)));
});
