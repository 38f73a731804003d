/**
 * ToTensor + Normalize(0.5, 0.5) with float32 rounding after each step, and the bf16 cast
 * (spec §3.6, implementer note 3). The fixture hashes are checked in fixture-views.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { normalizeView, roundToBf16, toNormalizedTensor } from "../../src/preprocess/tensor.ts";

function bits(f: number): number {
  const a = new Float32Array([f]);
  return new Uint32Array(a.buffer)[0];
}
function fromBits(u: number): number {
  return new Float32Array(new Uint32Array([u]).buffer)[0];
}

test("layout [3, H, W] and values of 0, 127, 255", () => {
  const img = { width: 2, height: 1, data: new Uint8Array([0, 127, 255, 255, 0, 127]) };
  const t = toNormalizedTensor(img);
  assert.equal(t.length, 6);
  const f = Math.fround;
  const n = (v: number) => f(f(f(v / 255) - 0.5) / 0.5);
  // channel 0: pixels (0, 255); channel 1: (127, 0); channel 2: (255, 127)
  assert.deepEqual([...t], [n(0), n(255), n(127), n(0), n(255), n(127)]);
  assert.equal(t[0], -1);
  assert.equal(t[1], 1);
  assert.equal(t[2], f(-0.003921568393707275));
});

test("per-step f32 rounding differs from a single rounding for some bytes", () => {
  const f = Math.fround;
  let differ = 0;
  for (let v = 0; v < 256; v++) {
    const t = toNormalizedTensor({ width: 1, height: 1, data: new Uint8Array([v, v, v]) });
    assert.equal(t[0], f(f(f(v / 255) - 0.5) / 0.5));
    if (t[0] !== f((v / 255 - 0.5) / 0.5)) differ++;
  }
  assert.ok(differ > 0);
});

test("roundToBf16: round to nearest even on the f32 bits", () => {
  const cases: [number, number][] = [
    [0x3f800000, 0x3f800000], // 1.0 exact
    [0x3f808000, 0x3f800000], // tie, even stays
    [0x3f818000, 0x3f820000], // tie, odd rounds up
    [0x3f808001, 0x3f810000], // above half
    [0x3f807fff, 0x3f800000], // below half
    [0xbf808001, 0xbf810000], // negative
    [0x7f7fffff, 0x7f800000], // max float rounds to +inf
    [0xff800000, 0xff800000], // -inf
    [0x00000001, 0x00000000], // denormal to 0
  ];
  const a = new Float32Array(cases.map(([i]) => fromBits(i)));
  roundToBf16(a);
  cases.forEach(([, want], k) => {
    assert.equal(bits(a[k]).toString(16), want.toString(16));
  });
  const nan = new Float32Array([Number.NaN]);
  roundToBf16(nan);
  assert.ok(Number.isNaN(nan[0]));
});

test("normalizeView: bf16 by default, f32 on request", () => {
  const img = { width: 1, height: 1, data: new Uint8Array([1, 2, 3]) };
  const f32 = normalizeView(img, { bf16: false });
  assert.deepEqual(f32, toNormalizedTensor(img));
  const b = normalizeView(img);
  assert.deepEqual(b, roundToBf16(toNormalizedTensor(img)));
  assert.notDeepEqual(b, f32);
});
