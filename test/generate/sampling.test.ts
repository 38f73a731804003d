import assert from "node:assert/strict";
import { test } from "node:test";
import { greedyArgmax, SeededRandom, TokenSampler } from "../../src/generate/sampling.ts";

test("greedyArgmax: max, ties to the lowest id, margin", () => {
  const r = greedyArgmax(Float32Array.from([0.5, 2, -1, 1.25]));
  assert.deepEqual(r, { id: 1, top1: 1, top1Logit: 2, top2: 3, top2Logit: 1.25, margin: 0.75 });
  const tie = greedyArgmax([1, 3, 0, 3, 3]);
  assert.equal(tie.id, 1);
  assert.equal(tie.top2, 3);
  assert.equal(tie.margin, 0);
  assert.equal(greedyArgmax([5]).margin, Number.POSITIVE_INFINITY);
  assert.equal(greedyArgmax([5]).top2, -1);
  assert.equal(greedyArgmax([-Infinity, -Infinity]).id, 0);
  assert.equal(greedyArgmax([-Infinity, -Infinity]).margin, 0);
  assert.throws(() => greedyArgmax([]), RangeError);
});

test("greedyArgmax: banned ids count as -inf", () => {
  const logits = [0, 9, 8, 7, 7];
  const r = greedyArgmax(logits, new Set([1]));
  assert.equal(r.id, 2);
  assert.equal(r.top2, 3);
  assert.equal(r.margin, 1);
  assert.equal(greedyArgmax(logits, new Set([1, 2])).id, 3);
  assert.equal(greedyArgmax(logits, new Set([1, 2])).top2, 4);
  assert.equal(greedyArgmax(logits, new Set()).id, 1);
  assert.throws(() => greedyArgmax([1, 2], new Set([0, 1])), RangeError);
  // Banned top1 at the very first position.
  assert.equal(greedyArgmax([9, 1, 2], new Set([0])).id, 2);
});

test("greedyArgmax: NaN wins like torch.argmax", () => {
  assert.equal(greedyArgmax([1, Number.NaN, 5, Number.NaN]).id, 1);
});

test("greedyArgmax equals a naive reference on random logits", () => {
  const rng = new SeededRandom(5);
  for (let trial = 0; trial < 300; trial++) {
    const V = 1 + (rng.nextUint32() % 50);
    // Few distinct values so ties are common.
    const logits = Array.from({ length: V }, () => (rng.nextUint32() % 7) - 3);
    const banned = new Set<number>();
    for (let i = 0; i < V; i++) if (rng.nextUint32() % 4 === 0) banned.add(i);
    const allowed = [...logits.keys()].filter((i) => !banned.has(i));
    if (allowed.length === 0) {
      assert.throws(() => greedyArgmax(logits, banned));
      continue;
    }
    const order = allowed.sort((a, b) => logits[b] - logits[a] || a - b);
    const r = greedyArgmax(logits, banned);
    assert.equal(r.id, order[0]);
    assert.equal(r.top2, order.length > 1 ? order[1] : -1);
    if (order.length > 1) assert.equal(r.margin, logits[order[0]] - logits[order[1]]);
  }
});

test("SeededRandom: deterministic, in range, roughly uniform", () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const c = new SeededRandom(43);
  const sa = Array.from({ length: 5 }, () => a.nextUint32());
  assert.deepEqual(
    sa,
    Array.from({ length: 5 }, () => b.nextUint32()),
  );
  assert.notDeepEqual(
    sa,
    Array.from({ length: 5 }, () => c.nextUint32()),
  );
  const r = new SeededRandom(0);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    const x = r.nextFloat();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
});

test("TokenSampler: temperature 0 is greedy", () => {
  const s = new TokenSampler({ temperature: 0, topP: 0.5, seed: 1 });
  assert.equal(s.greedy, true);
  assert.equal(s.sample([1, 5, 5, 2]).id, 1);
  assert.equal(s.sample([1, 5, 5, 2], new Set([1])).id, 2);
  assert.equal(new TokenSampler().greedy, true);
  assert.equal(new TokenSampler({ temperature: -1 }).greedy, true);
});

test("TokenSampler: same seed gives the same tokens; banned ids are never sampled", () => {
  const logits = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
  const run = (seed: number) => {
    const s = new TokenSampler({ temperature: 1.5, topP: 0.9, seed });
    return Array.from({ length: 50 }, () => s.sample(logits, new Set([0, 1, 2, 33])).id);
  };
  const a = run(7);
  assert.deepEqual(a, run(7));
  assert.notDeepEqual(a, run(8));
  for (const id of a) assert.ok(![0, 1, 2, 33].includes(id));
  // The diagnostics are the greedy top two of the allowed logits.
  const s = new TokenSampler({ temperature: 1, seed: 1 });
  const g = s.sample(logits);
  const ref = greedyArgmax(logits);
  assert.equal(g.top1, ref.top1);
  assert.equal(g.margin, ref.margin);
});

test("TokenSampler: frequencies follow softmax(logits / T)", () => {
  const logits = [Math.log(1), Math.log(2), Math.log(3), Math.log(4)];
  const s = new TokenSampler({ temperature: 1, seed: 123 });
  const counts = [0, 0, 0, 0];
  const N = 40000;
  for (let i = 0; i < N; i++) counts[s.sample(logits).id]++;
  for (let k = 0; k < 4; k++) assert.ok(Math.abs(counts[k] / N - (k + 1) / 10) < 0.01, `${counts}`);
  // T = 0.5 squares the odds: 1:4:9:16.
  const s2 = new TokenSampler({ temperature: 0.5, seed: 9 });
  const c2 = [0, 0, 0, 0];
  for (let i = 0; i < N; i++) c2[s2.sample(logits).id]++;
  for (let k = 0; k < 4; k++) assert.ok(Math.abs(c2[k] / N - (k + 1) ** 2 / 30) < 0.01, `${c2}`);
});

test("TokenSampler: top-p keeps the smallest set reaching p", () => {
  // probs 0.4, 0.3, 0.2, 0.1 (ids 3, 2, 1, 0).
  const logits = [Math.log(0.1), Math.log(0.2), Math.log(0.3), Math.log(0.4)];
  const seen = (topP: number) => {
    const s = new TokenSampler({ temperature: 1, topP, seed: 5 });
    const set = new Set<number>();
    const counts = new Map<number, number>();
    for (let i = 0; i < 20000; i++) {
      const id = s.sample(logits).id;
      set.add(id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return { ids: [...set].sort(), counts };
  };
  assert.deepEqual(seen(0.35).ids, [3]);
  assert.deepEqual(seen(0.4).ids, [3]);
  assert.deepEqual(seen(0.6).ids, [2, 3]);
  const r = seen(0.85);
  assert.deepEqual(r.ids, [1, 2, 3]);
  // Renormalised over the nucleus: 0.4/0.9, 0.3/0.9, 0.2/0.9.
  assert.ok(Math.abs((r.counts.get(3) ?? 0) / 20000 - 4 / 9) < 0.015);
  assert.deepEqual(seen(1).ids, [0, 1, 2, 3]);
});

test("TokenSampler: top-p over a large vocabulary with a banned favourite", () => {
  const V = 129280;
  const logits = new Float32Array(V).fill(-10);
  logits[500] = 10;
  logits[600] = 9;
  logits[700] = 8;
  const s = new TokenSampler({ temperature: 1, topP: 0.5, seed: 2 });
  for (let i = 0; i < 20; i++) assert.equal(s.sample(logits).id, 500);
  for (let i = 0; i < 20; i++) assert.equal(s.sample(logits, new Set([500])).id, 600);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) s.sample(logits);
  assert.ok(performance.now() - t0 < 1000);
});

test("TokenSampler: invalid settings and unusable logits", () => {
  assert.throws(() => new TokenSampler({ topP: 0 }), RangeError);
  assert.throws(() => new TokenSampler({ topP: 1.5 }), RangeError);
  assert.throws(() => new TokenSampler({ temperature: Number.NaN }), RangeError);
  const s = new TokenSampler({ temperature: 1 });
  assert.throws(() => s.sample([Number.POSITIVE_INFINITY, 0]), RangeError);
  assert.throws(() => s.sample([1, 2], new Set([0, 1])), RangeError);
});
