// attention of the native kernels vs the reference, every ISA level of this CPU: batches, GQA,
// causal offsets, additive masks, SAM decomposed rel-pos bias, KV-cache strides (lkCapacity),
// the decode path (lq <= 4) and the tiled path (several query and key blocks).
// Tolerance: helpers.ts (rtol 1e-5 against max(|expected|, rms)).
// bf16 K/V (a bf16 KV cache): every case again with K and V as bf16 bit patterns, plus odd head
// dims, GQA, causal offsets and spare capacity (poisoned with NaN: rows >= lk must not be read);
// native vs the reference, and bit for bit the native f32 call on the exactly widened K/V.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttentionParams } from "./deps.ts";
import { bf16ToF32, f32ToBf16ForTests, referenceKernels as ref } from "./deps.ts";
import { assertClose, eachNativeVariant, nativeLevels, randArray, rng } from "./helpers.ts";

const levels = nativeLevels();
const FINFO_MIN = -3.4028234663852886e38;

interface Case {
  name: string;
  p: AttentionParams;
  withMask?: "random" | "qwen2";
  rel?: { h: number; w: number };
  qScale?: number;
  /** Looser tolerance where f32 scores are large (|s| ~ 100 carries an absolute error ~1e-5). */
  rtol?: number;
}

const cases: Case[] = [
  { name: "tiny", p: { lq: 7, lk: 7, heads: 2, kvHeads: 2, headDim: 8, scale: 8 ** -0.5 } },
  { name: "single key", p: { lq: 5, lk: 1, heads: 1, kvHeads: 1, headDim: 3, scale: 0.5 } },
  {
    name: "decode, GQA, KV cache with spare capacity",
    p: { lq: 1, lk: 37, heads: 4, kvHeads: 2, headDim: 16, scale: 0.25, causalOffset: 36, lkCapacity: 50 },
  },
  {
    name: "small lq, batch 2, causal offset, capacity",
    p: { batch: 2, lq: 3, lk: 40, heads: 6, kvHeads: 3, headDim: 12, scale: 0.3, causalOffset: 37, lkCapacity: 64 },
  },
  { name: "lq 4 no causal, mask", p: { lq: 4, lk: 9, heads: 2, kvHeads: 1, headDim: 5, scale: 1 }, withMask: "random" },
  {
    name: "lq 5 (tiled) causal",
    p: { lq: 5, lk: 5, heads: 3, kvHeads: 1, headDim: 7, scale: 0.4, causalOffset: 0 },
  },
  {
    name: "prefill causal, 2 query and 2 key blocks, GQA, d=24",
    p: { batch: 2, lq: 300, lk: 300, heads: 4, kvHeads: 2, headDim: 24, scale: 24 ** -0.5, causalOffset: 0 },
  },
  {
    name: "chunked prefill: causal offset 30, lkCapacity 64",
    p: { lq: 20, lk: 50, heads: 2, kvHeads: 2, headDim: 16, scale: 0.25, causalOffset: 30, lkCapacity: 64 },
  },
  {
    name: "non-causal long keys, d=64",
    p: { lq: 130, lk: 600, heads: 1, kvHeads: 1, headDim: 64, scale: 0.125 },
  },
  {
    name: "Qwen2 encoder mixed mask (finfo.min), GQA group 7",
    p: { lq: 80, lk: 80, heads: 7, kvHeads: 1, headDim: 8, scale: 8 ** -0.5 },
    withMask: "qwen2",
  },
  {
    name: "mask and causal together, batch 3",
    p: { batch: 3, lq: 33, lk: 33, heads: 2, kvHeads: 2, headDim: 10, scale: 0.3, causalOffset: 0 },
    withMask: "random",
  },
  {
    name: "SAM windows: relPos 7x7, batch 3",
    p: { batch: 3, lq: 49, lk: 49, heads: 2, kvHeads: 2, headDim: 16, scale: 0.25 },
    rel: { h: 7, w: 7 },
  },
  {
    name: "SAM global-like: relPos 20x17 (several blocks)",
    p: { lq: 340, lk: 340, heads: 2, kvHeads: 2, headDim: 32, scale: 32 ** -0.5 },
    rel: { h: 20, w: 17 },
  },
  {
    name: "relPos 2x2 on the decode path",
    p: { lq: 4, lk: 4, heads: 1, kvHeads: 1, headDim: 6, scale: 0.5 },
    rel: { h: 2, w: 2 },
  },
  {
    name: "large scores (stability of max subtraction)",
    p: { lq: 40, lk: 70, heads: 2, kvHeads: 2, headDim: 16, scale: 1 },
    qScale: 30,
    rtol: 1e-4,
  },
];

/** The inputs of a case (deterministic per case name). */
function inputs(c: Case): { p: AttentionParams; q: Float32Array; k: Float32Array; v: Float32Array } {
  const r = rng(c.name.length * 104729 + 17);
  const p: AttentionParams = { ...c.p };
  const batch = p.batch ?? 1;
  const cap = p.lkCapacity ?? p.lk;
  const q = randArray(r, batch * p.lq * p.heads * p.headDim, -(c.qScale ?? 1), c.qScale ?? 1);
  const k = randArray(r, batch * cap * p.kvHeads * p.headDim);
  const v = randArray(r, batch * cap * p.kvHeads * p.headDim);
  if (c.withMask === "random") {
    p.mask = randArray(r, p.lq * p.lk, -3, 1);
    for (let i = 0; i < p.mask.length; i += 5) p.mask[i] = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < p.lq; i++) p.mask[i * p.lk] = 0; // every row keeps key 0
  } else if (c.withMask === "qwen2") {
    const n = p.lq / 2;
    p.mask = new Float32Array(p.lq * p.lk).fill(FINFO_MIN);
    for (let row = 0; row < p.lq; row++) {
      for (let col = 0; col < p.lk; col++) {
        const open = (row < n && col < n) || (row >= n && col < n) || (row >= n && col >= n && col <= row);
        if (open) p.mask[row * p.lk + col] = 0;
      }
    }
  }
  if (c.rel) {
    p.relPos = {
      h: c.rel.h,
      w: c.rel.w,
      tableH: randArray(r, (2 * c.rel.h - 1) * p.headDim),
      tableW: randArray(r, (2 * c.rel.w - 1) * p.headDim),
    };
  }
  return { p, q, k, v };
}

for (const c of cases) {
  test(c.name, () => {
    const { p, q, k, v } = inputs(c);
    const expected = ref.attention(q, k, v, p);
    for (const K of levels) assertClose(K.attention(q, k, v, p), expected, `${K.name} attention ${c.name}`, c.rtol);
  });
}

/** Rounds to bf16 bit patterns; rows at or above `lk` of each batch block (spare capacity) become NaN. */
function toBf16(a: Float32Array, p: AttentionParams): Uint16Array {
  const w = p.kvHeads * p.headDim;
  const cap = p.lkCapacity ?? p.lk;
  const u = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) u[i] = Math.floor(i / w) % cap >= p.lk ? 0x7fc0 : f32ToBf16ForTests(a[i]);
  return u;
}

function widen(u: Uint16Array): Float32Array {
  return Float32Array.from(u, (b) => bf16ToF32(b));
}

function assertSame(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} is ${a[i]}, expected exactly ${b[i]}`);
  }
}

const bf16Cases: Case[] = [
  ...cases,
  {
    name: "decode, odd head dim 13, GQA 3, spare capacity",
    p: { lq: 1, lk: 70, heads: 6, kvHeads: 2, headDim: 13, scale: 13 ** -0.5, causalOffset: 69, lkCapacity: 97 },
  },
  {
    name: "decode lq 3, head dim 33, batch 2, causal offset 40 of 45 keys, capacity 64",
    p: { batch: 2, lq: 3, lk: 45, heads: 4, kvHeads: 1, headDim: 33, scale: 0.2, causalOffset: 40, lkCapacity: 64 },
  },
  {
    name: "decode, head dim 128 (the LM's), 200 keys over several chunks, capacity 256",
    p: { lq: 1, lk: 200, heads: 4, kvHeads: 4, headDim: 128, scale: 128 ** -0.5, causalOffset: 199, lkCapacity: 256 },
  },
  {
    name: "decode, head dim 5 (tail only), single key",
    p: { lq: 1, lk: 1, heads: 3, kvHeads: 1, headDim: 5, scale: 0.5, causalOffset: 0, lkCapacity: 8 },
  },
  {
    name: "prefill over a cache: lq 37, causal offset 21, head dim 17, GQA 2, capacity 100",
    p: { lq: 37, lk: 58, heads: 4, kvHeads: 2, headDim: 17, scale: 0.3, causalOffset: 21, lkCapacity: 100 },
  },
  {
    name: "prefill from 0, 2 query and 3 key blocks, head dim 31, capacity 600",
    p: { lq: 260, lk: 260, heads: 2, kvHeads: 1, headDim: 31, scale: 31 ** -0.5, causalOffset: 0, lkCapacity: 600 },
  },
];

for (const c of bf16Cases) {
  test(`bf16 K/V: ${c.name}`, () => {
    const { p, q, k, v } = inputs(c);
    const kb = toBf16(k, p);
    const vb = toBf16(v, p);
    const kw = widen(kb);
    const vw = widen(vb);
    const expected = ref.attention(q, kb, vb, p);
    // The reference's bf16 path is its f32 path on the widened values.
    assertSame(expected, ref.attention(q, kw, vw, p), `reference bf16 vs widened ${c.name}`);
    for (const K of levels) {
      const got = K.attention(q, kb, vb, p);
      assertClose(got, expected, `${K.name} bf16 attention ${c.name}`, c.rtol);
      assertSame(got, K.attention(q, kw, vw, p), `${K.name} bf16 vs f32 on the widened K/V, ${c.name}`);
    }
  });
}

test("bf16 K/V: k and v of different types are rejected", () => {
  const p: AttentionParams = { lq: 1, lk: 2, heads: 1, kvHeads: 1, headDim: 4, scale: 0.5 };
  const q = new Float32Array(4);
  for (const K of [ref, ...levels]) {
    assert.throws(() => K.attention(q, new Float32Array(8), new Uint16Array(8), p), TypeError, K.name);
    assert.throws(() => K.attention(q, new Uint16Array(8), new Float32Array(8), p), TypeError, K.name);
  }
});

test("decode over a KV cache equals the last rows of the full causal prefill", () => {
  const r = rng(99);
  const L = 29;
  const d = 16;
  const q = randArray(r, L * 2 * d);
  const k = randArray(r, 40 * d); // capacity 40, one kv head
  const v = randArray(r, 40 * d);
  for (const K of levels) {
    const full = K.attention(q, k, v, {
      lq: L,
      lk: L,
      heads: 2,
      kvHeads: 1,
      headDim: d,
      scale: 0.25,
      causalOffset: 0,
      lkCapacity: 40,
    });
    for (const pos of [0, 13, L - 1]) {
      const one = K.attention(q.subarray(pos * 2 * d, (pos + 1) * 2 * d), k, v, {
        lq: 1,
        lk: pos + 1,
        heads: 2,
        kvHeads: 1,
        headDim: d,
        scale: 0.25,
        causalOffset: pos,
        lkCapacity: 40,
      });
      assertClose(one, full.subarray(pos * 2 * d, (pos + 1) * 2 * d), `${K.name} decode at ${pos}`);
    }
  }
});

// bf16 products (AttentionParams.bf16: the vision encoder and the LM prefill in the bf16 and int8
// precisions): q, k, v and the probabilities rounded to bf16. Against the reference (unblocked softmax in f64): a probability
// whose f32 and f64 values round to different bf16 neighbours moves by one bf16 step (2^-8
// relative), so the tolerance is 1e-2 (the ISA levels block the keys and compute exp differently,
// so they differ among themselves by as much). At the AVX-512 level with and without the
// AVX512_BF16 kernels, the blocking and the exp are the same and only the f32 summation order of
// the scores differs, which can still move a rare probability across a bf16 rounding boundary (one
// step, 2^-8 of that probability): tolerance 2e-3, five times tighter. This checks the vdpbf16ps
// kernels on packed pairs against the f32 FMA path on the same rounded inputs.
const bf16ProductCases: Case[] = [
  ...cases,
  {
    name: "SAM windows: batch 3, 14 x 14 tokens, rel-pos, head dim 64",
    p: { batch: 3, lq: 196, lk: 196, heads: 2, kvHeads: 2, headDim: 64, scale: 0.125 },
    rel: { h: 14, w: 14 },
  },
  {
    name: "1000 keys (3 key blocks), odd head dim 33, 2 query blocks",
    p: { lq: 200, lk: 1000, heads: 2, kvHeads: 1, headDim: 33, scale: 33 ** -0.5 },
  },
  {
    name: "Qwen2 encoder mask, 2 x 72 tokens, head dim 64, GQA",
    p: { lq: 144, lk: 144, heads: 4, kvHeads: 2, headDim: 64, scale: 0.125 },
    withMask: "qwen2",
  },
  {
    name: "odd keys (one pair padded), causal, head dim 7",
    p: { lq: 9, lk: 9, heads: 1, kvHeads: 1, headDim: 7, scale: 0.4, causalOffset: 0 },
  },
];

for (const c of bf16ProductCases) {
  test(`bf16 products: ${c.name}`, () => {
    const { p, q, k, v } = inputs(c);
    const pb = { ...p, bf16: true };
    const expected = ref.attention(q, k, v, pb);
    const f32 = ref.attention(q, k, v, p);
    const got = new Map<string, Float32Array>();
    eachNativeVariant((K, label) => {
      const o = K.attention(q, k, v, pb);
      assertClose(o, expected, `${label} bf16 products ${c.name}`, 1e-2);
      got.set(label, o);
    });
    const dot = got.get("native-avx512");
    const fma = got.get("native-avx512-nobf16dot");
    if (dot && fma) assertClose(dot, fma, `vdpbf16ps vs f32 FMAs, ${c.name}`, 2e-3);
    // The rounding is real: the reference's bf16 and f32 results differ where d > 1.
    if (p.headDim > 4 && p.lk > 4)
      assert.ok(
        expected.some((x, i) => x !== f32[i]),
        "bf16 changes the result",
      );
  });
}
