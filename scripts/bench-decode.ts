/**
 * Decode-side micro benchmark (issue 10): read bandwidth vs. the weight streaming of batch-1
 * matvecs (bf16 plain and int8 packed) on the real DeepSeek-OCR 2 shapes, and the fused MoE layer.
 *
 *   node --import tsx scripts/bench-decode.ts [--reps 7] [--model /tmp/full-v2] [--threads n]
 *
 * Prints best and median of `reps` timed runs (after one warm-up) of each item; the machine may be
 * shared, so read the best as the capability and the median as the typical. GB/s counts the
 * weight bytes each call must stream (bf16: 2 B/weight, int8: 1 B + a 4 B scale per row).
 * With --model, one MoE layer (layer 1) of that checkpoint is loaded (bf16 and int8) and timed
 * per call (m = 1), fused and op by op.
 */
import { openCheckpoint } from "../src/checkpoint/safetensors.ts";
import { loadConfig } from "../src/config/config.ts";
import { benchReadBandwidth, cpuFeatures, createNativeKernels, defaultIsa } from "../src/kernels/native.ts";
import type { PlainWeight } from "../src/kernels/types.ts";
import { DeepseekMoe, moeDimsFromConfig } from "../src/model/moe.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const reps = Number(opt("reps", "7"));
const model = opt("model", "");
const K = createNativeKernels();
if (args.includes("--threads")) K.setThreads(Number(opt("threads", "1")));

function time(fn: () => void): { best: number; median: number } {
  fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { best: t[0], median: t[Math.floor(t.length / 2)] };
}

let seed = 12345;
function randBf16(rows: number, cols: number): PlainWeight {
  const d = new Uint16Array(rows * cols);
  // Random bf16 in about [-0.06, 0.06]: sign, exponent 120..122, random mantissa.
  for (let i = 0; i < d.length; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    d[i] = ((seed >>> 31) << 15) | ((120 + ((seed >>> 8) % 3)) << 7) | (seed & 0x7f);
  }
  return { dtype: "bf16", data: d, rows, cols };
}

const f = cpuFeatures();
console.log(`CPU: ${f.model}; ISA ${defaultIsa()}; threads ${K.getThreads()}; reps ${reps} (best / median)`);

// ---- read bandwidth ----
// The bench's probe (native/bench.cc): best of `reps` streaming passes over 1 GiB.
const bwBest = benchReadBandwidth(2 ** 30, K.getThreads(), reps);
console.log(`read bandwidth (1 GiB streaming read): ${bwBest.toFixed(1)} GB/s best`);

const fmt = (bytes: number, t: { best: number; median: number }) => {
  const gb = bytes / (t.best * 1e6);
  const gbm = bytes / (t.median * 1e6);
  return `${t.best.toFixed(3)} / ${t.median.toFixed(3)} ms  ${gb.toFixed(1)} / ${gbm.toFixed(1)} GB/s  ${((100 * gb) / bwBest).toFixed(0)}% / ${((100 * gbm) / bwBest).toFixed(0)}% of bw`;
};

// ---- matvecs on real shapes (m = 1) ----
const shapes: [string, number, number, number][] = [
  ["dense gate/up 6848x1280", 6848, 1280, 1],
  ["dense down 1280x6848", 1280, 6848, 1],
  ["6 experts gate 896x1280", 896, 1280, 6],
  ["6 experts down 1280x896", 1280, 896, 6],
  ["lm_head 129280x1280", 129280, 1280, 1],
];
// Each call streams `count` matrices; enough distinct sets (>= 256 MiB) are cycled through so
// that the weights come from memory, as in decode (the whole model never fits in the caches).
for (const [name, n, k, count] of shapes) {
  const sets = Math.max(1, Math.ceil((256 << 20) / (count * n * k * 2)));
  const ws = Array.from({ length: sets * count }, () => randBf16(n, k));
  const x = new Float32Array(k).fill(0.5);
  let next = 0;
  const cycle = (arr: unknown[], run: (w: never) => void) => () => {
    for (let i = 0; i < count; i++) run(arr[next * count + i] as never);
    next = (next + 1) % sets;
  };
  const tb = time(cycle(ws, (w) => K.linear(x, 1, w)));
  console.log(`bf16 ${name.padEnd(26)} ${fmt(count * n * k * 2, tb)}`);
  const ps = ws.map((w) => K.packWeight(w, "int8"));
  const ti = time(cycle(ps, (w) => K.linear(x, 1, w)));
  console.log(`int8 ${name.padEnd(26)} ${fmt(count * n * (k + 4), ti)}`);
}

// ---- one MoE layer of a real-size checkpoint ----
if (model) {
  const cfg = loadConfig(model);
  const ckpt = openCheckpoint(model);
  const dims = moeDimsFromConfig(cfg.language);
  const li = cfg.language.firstKDenseReplace;
  const perToken = (pack: boolean) =>
    dims.nRoutedExperts > 0
      ? dims.hidden * dims.nRoutedExperts * 2 +
        3 * dims.hidden * dims.moeIntermediate * (dims.topK + dims.nSharedExperts) * (pack ? 1 : 2)
      : 0;
  // Layers li .. li+2 are cycled with a different input each call (other experts), so the
  // weights come from memory as in decode.
  const nl = Math.min(3, cfg.language.numHiddenLayers - li);
  for (const precision of ["f32", "int8"] as const) {
    const moes = Array.from({ length: nl }, (_, j) =>
      DeepseekMoe.load({ ckpt, k: K, precision, role: "lm" }, `model.layers.${li + j}.mlp`, dims, li + j),
    );
    const moe = moes[0];
    const xs = Array.from({ length: 16 }, (_, j) => new Float32Array(dims.hidden).map((_, i) => Math.sin(i * (j + 1))));
    let c = 0;
    const tf = time(() => {
      c++;
      moes[c % nl].forward(xs[c % 16], 1);
    });
    const to = time(() => {
      c++;
      moes[c % nl].forwardRouted(xs[c % 16], 1);
    });
    const bytes = perToken(precision === "int8");
    console.log(`MoE layer ${li} ${precision === "f32" ? "bf16" : "int8"} fused    m=1: ${fmt(bytes, tf)}`);
    console.log(`MoE layer ${li} ${precision === "f32" ? "bf16" : "int8"} op-by-op m=1: ${fmt(bytes, to)}`);
    const x4 = new Float32Array(4 * dims.hidden).map((_, i) => Math.cos(i));
    const t4 = time(() => moe.forward(x4, 4));
    console.log(
      `MoE layer ${li} ${precision === "f32" ? "bf16" : "int8"} fused    m=4: ${t4.best.toFixed(3)} / ${t4.median.toFixed(3)} ms`,
    );
  }
  ckpt.close();
}
