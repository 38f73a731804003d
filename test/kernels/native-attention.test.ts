// attention of the native kernels vs the reference, every ISA level of this CPU: batches, GQA,
// causal offsets, additive masks, SAM decomposed rel-pos bias, KV-cache strides (lkCapacity),
// the decode path (lq <= 4) and the tiled path (several query and key blocks).
// Tolerance: helpers.ts (rtol 1e-5 against max(|expected|, rms)).
import { test } from "node:test";
import type { AttentionParams } from "./deps.ts";
import { referenceKernels as ref } from "./deps.ts";
import { assertClose, nativeLevels, randArray, rng } from "./helpers.ts";

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

for (const c of cases) {
  test(c.name, () => {
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
    const expected = ref.attention(q, k, v, p);
    for (const K of levels) assertClose(K.attention(q, k, v, p), expected, `${K.name} attention ${c.name}`, c.rtol);
  });
}

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
