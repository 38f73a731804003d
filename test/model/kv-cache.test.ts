/**
 * KvCache storage (spec 6.4): an f32 cache keeps the appended rows bit for bit; a bf16 cache keeps
 * them rounded to nearest-even bf16 (src/util/bf16.ts, ties, NaN and overflow included); both grow
 * by doubling without losing rows. The language model picks the dtype from the precision.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { KvCache } from "../../src/model/blocks/kv-cache.ts";
import { kvDtypeFor } from "../../src/model/language-model.ts";
import { bf16BitsToF32, f32ArrayToBf16Bits, f32ToBf16Bits } from "../../src/util/bf16.ts";

/** Rows of width w with awkward values: ties, subnormals, NaN, overflow to inf, signed zero. */
function rows(n: number, w: number, salt: number): Float32Array {
  const special = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 1e-40, Number.NaN, 3.4e38, -0, 0.1];
  const a = new Float32Array(n * w);
  for (let i = 0; i < a.length; i++)
    a[i] = i % 5 === 0 ? special[(i + salt) % special.length] : Math.sin(i * 1.7 + salt) * 10;
  return a;
}

test("f32 cache: rows bit for bit, grown by doubling", () => {
  const c = new KvCache(6, 2);
  assert.equal(c.dtype, "f32");
  const k1 = rows(3, 6, 1);
  const v1 = rows(3, 6, 2);
  const k2 = rows(2, 6, 3);
  const v2 = rows(2, 6, 4);
  c.append(k1, v1, 3);
  c.append(k2, v2, 2);
  assert.equal(c.length, 5);
  assert.equal(c.capacity, 8);
  assert.ok(c.k instanceof Float32Array && c.v instanceof Float32Array);
  assert.equal(c.bytes, 2 * 8 * 6 * 4);
  const ek = new Float32Array([...k1, ...k2]);
  const ev = new Float32Array([...v1, ...v2]);
  assert.deepEqual(new Uint32Array(c.k.buffer, 0, 30), new Uint32Array(ek.buffer));
  assert.deepEqual(new Uint32Array(c.v.buffer, 0, 30), new Uint32Array(ev.buffer));
});

test("bf16 cache: rows rounded to nearest-even bf16, grown by doubling", () => {
  const c = new KvCache(6, 1, "bf16");
  const k1 = rows(1, 6, 5);
  const v1 = rows(1, 6, 6);
  const k2 = rows(4, 6, 7);
  const v2 = rows(4, 6, 8);
  c.append(k1, v1, 1);
  c.append(k2, v2, 4);
  assert.equal(c.length, 5);
  assert.equal(c.capacity, 8);
  assert.ok(c.k instanceof Uint16Array && c.v instanceof Uint16Array);
  assert.equal(c.bytes, 2 * 8 * 6 * 2);
  const ek = [...k1, ...k2];
  const ev = [...v1, ...v2];
  for (let i = 0; i < 30; i++) {
    assert.equal(c.k[i], f32ToBf16Bits(ek[i]), `k[${i}] = ${ek[i]}`);
    assert.equal(c.v[i], f32ToBf16Bits(ev[i]), `v[${i}] = ${ev[i]}`);
  }
  // Spot checks of the rule: ties to even, overflow to inf, NaN stays NaN.
  assert.equal(bf16BitsToF32(f32ToBf16Bits(1 + 2 ** -8)), 1);
  assert.equal(bf16BitsToF32(f32ToBf16Bits(1 + 3 * 2 ** -8)), 1 + 2 ** -6);
  assert.equal(bf16BitsToF32(f32ToBf16Bits(3.4e38)), Number.POSITIVE_INFINITY);
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(Number.NaN))));
});

test("f32ArrayToBf16Bits writes at an offset and refuses what does not fit", () => {
  const dst = new Uint16Array(5);
  f32ArrayToBf16Bits(new Float32Array([1, -2.5]), dst, 3);
  assert.deepEqual(Array.from(dst), [0, 0, 0, 0x3f80, 0xc020]);
  assert.throws(() => f32ArrayToBf16Bits(new Float32Array(3), dst, 3), RangeError);
});

test("KV dtype per precision: f32 keeps f32, bf16 and int8 store bf16", () => {
  assert.equal(kvDtypeFor("f32"), "f32");
  assert.equal(kvDtypeFor("bf16"), "bf16");
  assert.equal(kvDtypeFor("int8"), "bf16");
});
