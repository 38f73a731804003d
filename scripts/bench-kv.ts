/**
 * f32 vs bf16 KV cache, A/B in one process: one language model (bf16 or int8 weights), two states
 * prefilled with the same `ctx` rows, one with an f32 cache and one with a bf16 cache (the
 * default of bf16 and int8 since the bf16 KV cache), then `steps` rounds of one decode step on
 * each, the order swapped every round. Interleaving cancels the drift of a shared machine's memory
 * bandwidth that separate runs suffer. Prints per cache dtype: best and median ms per step, the
 * attention calls' ms per step (kernel timed alone) and the K/V bytes they read per token; and how
 * far the bf16 cache moves the logits from the f32 cache's (prefill and 2 decode steps, same tokens).
 *
 *   node --import tsx scripts/bench-kv.ts --model /tmp/full-v2 [--precision bf16|int8] [--ctx 1131] [--steps 24]
 */

import { loadLanguageModel, options } from "../bench/lm-setup.ts";
import type { AttentionParams, KvArray, Precision } from "../src/kernels/types.ts";
import type { KvDtype } from "../src/model/blocks/kv-cache.ts";

const opt = options(process.argv.slice(2));
const dir = opt("model", "/tmp/full-v2");
const precision = opt("precision", "bf16") as Precision;
const ctx = Number(opt("ctx", "1131"));
const steps = Number(opt("steps", "24"));
const { k, lm } = loadLanguageModel(dir, precision);

// Time the attention kernel alone (per step), and count the K/V bytes it reads.
let attnMs = 0;
let attnBytes = 0;
const attention = k.attention.bind(k);
k.attention = (q: Float32Array, kk: KvArray, v: KvArray, p: AttentionParams) => {
  const t0 = performance.now();
  const r = attention(q, kk, v, p);
  attnMs += performance.now() - t0;
  attnBytes += 2 * p.lk * p.kvHeads * p.headDim * kk.BYTES_PER_ELEMENT;
  return r;
};

const argmax = (x: Float32Array) => {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
};
const ids = Array.from({ length: ctx }, (_, i) => 100 + ((i * 7919) % 100000));
const embeds = lm.embed(ids);
const dtypes: KvDtype[] = ["f32", "bf16"];
// Logits difference of the two caches (same tokens): max |d| / max |f32-cache logits|, mean |d| / mean |..|.
const diff = (a: Float32Array, b: Float32Array) => {
  let md = 0;
  let ma = 0;
  let sd = 0;
  let sa = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    md = Math.max(md, d);
    ma = Math.max(ma, Math.abs(a[i]));
    sd += d;
    sa += Math.abs(a[i]);
  }
  return `max rel ${(md / ma).toExponential(2)}, mean rel ${(sd / sa).toExponential(2)}, argmax ${argmax(a) === argmax(b) ? "equal" : "differs"}`;
};
const runs = dtypes.map((dtype) => {
  const state = lm.newState(ctx + steps + 8, dtype);
  const logits = lm.prefill(state, embeds, ctx);
  return { dtype, state, logits, id: argmax(logits), total: [] as number[], attn: [] as number[], bytes: 0 };
});
const lines = [`bf16 vs f32 cache, prefill logits: ${diff(runs[0].logits, runs[1].logits)}`];
// Warm-up: 2 steps each, both fed the f32-cache run's greedy token (the logits compared).
for (let i = 0; i < 2; i++) {
  const id = runs[0].id;
  const out = runs.map((r) => lm.decode(r.state, id));
  lines.push(`bf16 vs f32 cache, decode step ${i + 1}: ${diff(out[0], out[1])}`);
  for (let j = 0; j < runs.length; j++) runs[j].id = argmax(out[j]);
}
for (let s = 0; s < steps; s++) {
  const order = s % 2 === 0 ? runs : [...runs].reverse();
  for (const r of order) {
    attnMs = 0;
    attnBytes = 0;
    const t0 = performance.now();
    r.id = argmax(lm.decode(r.state, r.id));
    r.total.push(performance.now() - t0);
    r.attn.push(attnMs);
    r.bytes = attnBytes;
  }
}
const stat = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return { best: s[0], med: s[Math.floor(s.length / 2)] };
};
console.log(lines.join("\n"));
console.log(`${precision} weights, ctx ${ctx}, ${k.getThreads()} threads, ${steps} interleaved steps per cache dtype`);
console.log("kv    step best ms  step med ms  attention best ms  attention med ms  K/V MB/token");
for (const r of runs) {
  const t = stat(r.total);
  const a = stat(r.attn);
  console.log(
    `${r.dtype.padEnd(5)} ${t.best.toFixed(2).padStart(12)} ${t.med.toFixed(2).padStart(12)} ${a.best.toFixed(3).padStart(18)} ${a.med.toFixed(3).padStart(17)} ${(r.bytes / 1e6).toFixed(1).padStart(13)}`,
  );
}
