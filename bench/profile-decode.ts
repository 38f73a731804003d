/**
 * Time breakdown of one batch-1 decode step of the language model (issue: decode near the
 * bandwidth limit). Wraps every kernel call of a decode step with a timer, grouped by component
 * (the weight the linear reads, or the kernel name), and prints ms and GB/s per group next to the
 * bytes it reads.
 *
 *   node --import tsx bench/profile-decode.ts --model /tmp/full-v2 [--precision bf16|int8] [--ctx 1131] [--steps 12]
 */
import type { Kernels, Precision, Weight } from "../src/kernels/types.ts";
import { loadLanguageModel, options } from "./lm-setup.ts";

const opt = options(process.argv.slice(2));
const dir = opt("model", "/tmp/full-v2");
const precision = opt("precision", "bf16") as Precision;
const ctx = Number(opt("ctx", "1131"));
const steps = Number(opt("steps", "12"));
const { k, lm, cfg } = loadLanguageModel(dir, precision);

// Names of the weights, by identity.
const names = new Map<unknown, string>();
lm.layers.forEach((l, i) => {
  const a = l.attn;
  const kind = i === 0 ? "dense" : "moe";
  names.set(a.qkv.weight, "attn.qkv");
  names.set(a.o.weight, "attn.o");
  const f = l.ffn as unknown as Record<string, { weight: Weight }>;
  if (kind === "dense") {
    for (const p of ["gate", "up", "down"]) if (f[p]) names.set(f[p].weight, `mlp.${p}`);
  }
});
names.set(lm.lmHead.weight, "lm_head");

const bytesOf = (w: Weight) => (w.dtype === "packed" ? w.bytes : w.data.byteLength);

// Per component: per-step time (ms), calls and bytes.
const acc = new Map<string, { steps: number[]; calls: number; bytes: number }>();
let stepNo = 0;
const add = (name: string, ms: number, bytes: number) => {
  const a = acc.get(name) ?? { steps: [], calls: 0, bytes: 0 };
  a.steps[stepNo] = (a.steps[stepNo] ?? 0) + ms;
  a.calls++;
  a.bytes += bytes;
  acc.set(name, a);
};
let on = false;
const wrap = (obj: Kernels, key: keyof Kernels, label: (args: unknown[]) => [string, number]) => {
  const f = (obj as unknown as Record<string, (...a: unknown[]) => unknown>)[key].bind(obj);
  (obj as unknown as Record<string, unknown>)[key] = (...a: unknown[]) => {
    if (!on) return f(...a);
    const t0 = performance.now();
    const r = f(...a);
    const [n, b] = label(a);
    add(n, performance.now() - t0, b);
    return r;
  };
};
wrap(k, "linear", (a) => {
  const w = a[2] as Weight;
  return [names.get(w) ?? `linear ${w.rows}x${w.cols}`, bytesOf(w)];
});
wrap(k, "attention", (a) => {
  // K and V rows read: 4 B per value from an f32 cache, 2 B from a bf16 one (bf16 and int8 precisions).
  const p = a[3] as { lk: number; kvHeads: number; headDim: number };
  const bpe = (a[1] as Float32Array | Uint16Array).BYTES_PER_ELEMENT;
  return ["attention", 2 * p.lk * p.kvHeads * p.headDim * bpe];
});
for (const key of ["rmsNorm", "rope", "add", "softmax", "swiglu"] as const) wrap(k, key, () => [key, 0]);
// The fused MoE layers: wrap their forward once created.
const moeBytes = (() => {
  const l = cfg.language;
  const h = l.hiddenSize;
  const bpe = precision === "int8" ? 1 : 2;
  return h * l.nRoutedExperts * 2 + 3 * bpe * h * l.moeIntermediateSize * (l.numExpertsPerTok + l.nSharedExperts);
})();

const state = lm.newState(ctx + steps + 8);
const ids = Array.from({ length: ctx }, (_, i) => 100 + ((i * 7919) % 100000));
let logits = lm.prefill(state, lm.embed(ids), ctx);
for (const l of lm.layers) {
  const f = l.ffn as unknown as { fusedLayer?: () => { forward: (...a: unknown[]) => unknown } | null };
  const fl = f.fusedLayer?.();
  if (fl) {
    const g = fl.forward.bind(fl);
    fl.forward = (...a: unknown[]) => {
      if (!on) return g(...a);
      const t0 = performance.now();
      const r = g(...a);
      add("moe (fused)", performance.now() - t0, moeBytes);
      return r;
    };
  }
}
const argmax = (x: Float32Array) => {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
};
let id = argmax(logits);
for (let i = 0; i < 3; i++) {
  logits = lm.decode(state, id);
  id = argmax(logits);
}
const totals: number[] = [];
on = true;
for (let i = 0; i < steps; i++) {
  stepNo = i;
  const t0 = performance.now();
  logits = lm.decode(state, id);
  totals.push(performance.now() - t0);
  id = argmax(logits);
}
on = false;
totals.sort((a, b) => a - b);
const med = totals[Math.floor(totals.length / 2)];
// Per component: median and best over the steps (the best is robust to a shared machine).
const stat = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return { med: s[Math.floor(s.length / 2)], best: s[0] };
};
let sumMed = 0;
let sumBest = 0;
const rows = [...acc.entries()].map(([n, a]) => ({ n, a, ...stat(a.steps) })).sort((x, y) => y.med - x.med);
console.log(
  `decode ${precision}, ctx ${ctx}, ${k.getThreads()} threads: best ${totals[0].toFixed(2)} ms, median ${med.toFixed(2)} ms per token (${steps} steps)`,
);
console.log("component          med ms  best ms  calls/token  MB/token  GB/s(med) GB/s(best)");
for (const { n, a, med: m, best } of rows) {
  sumMed += m;
  sumBest += best;
  const mb = a.bytes / steps / 1e6;
  console.log(
    `${n.padEnd(18)} ${m.toFixed(3).padStart(7)} ${best.toFixed(3).padStart(8)} ${(a.calls / steps).toFixed(0).padStart(12)} ${mb.toFixed(1).padStart(9)} ${(mb > 0 ? mb / m : 0).toFixed(1).padStart(10)} ${(mb > 0 ? mb / best : 0).toFixed(1).padStart(10)}`,
  );
}
console.log(
  `${"sum of parts".padEnd(18)} ${sumMed.toFixed(3).padStart(7)} ${sumBest.toFixed(3).padStart(8)}   untimed (TS glue) ~ ${(totals[0] - sumBest).toFixed(3)} ms (best step - best parts)`,
);
