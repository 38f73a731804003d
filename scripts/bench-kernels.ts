// Ad-hoc benchmark of the native kernels (not a test). Prints GFLOP/s per ISA level and thread count.
// Usage: node --import tsx scripts/bench-kernels.ts [isa...]   (default: every supported level)
import { cpuFeatures, createNativeKernels, type IsaLevel, supportedIsaLevels } from "../src/kernels/native.ts";
import { f32ToBf16 } from "../src/kernels/reference.ts";
import type { Kernels, Weight } from "../src/kernels/types.ts";

function rand(n: number, s = 1): Float32Array {
  const a = new Float32Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    a[i] = ((x >>> 8) / 16777216 - 0.5) * 2 * s;
  }
  return a;
}

function bf16(rows: number, cols: number): Weight {
  const f = rand(rows * cols, 0.05);
  const u = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) u[i] = f32ToBf16(f[i]);
  return { dtype: "bf16", data: u, rows, cols };
}

/** Median seconds of `reps` runs after one warm-up, at least `minTime` seconds in total. */
function time(f: () => void, minTime = 1): number {
  f();
  const ts: number[] = [];
  const t0 = performance.now();
  while (ts.length < 3 || (performance.now() - t0) / 1000 < minTime) {
    const a = performance.now();
    f();
    ts.push((performance.now() - a) / 1000);
    if (ts.length >= 50) break;
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

const f = cpuFeatures();
const isas = (process.argv.slice(2) as IsaLevel[]).filter(Boolean);
const levels = isas.length ? isas : supportedIsaLevels();
console.log(`CPU: ${f.model}; best ISA ${f.bestIsa}; avx512bf16=${f.avx512bf16}`);

const wQkv = bf16(2304, 768);
const xQkv = rand(4096 * 768);
const wMlp = bf16(6848, 1280);
// Six different 1280x6848 weights (105 MB of bf16, more than any L3): decode streams from DRAM.
const wCold = [wMlp, ...Array.from({ length: 5 }, () => bf16(6848, 1280))];
let coldIdx = 0;
const x1 = rand(1280);
const x16 = rand(16 * 1280);
const wQkvF32: Weight = { dtype: "f32", data: rand(2304 * 768, 0.05), rows: 2304, cols: 768 };
const L = 4096;
const H = 12;
const D = 64;
const q = rand(L * H * D);
const kv = rand(L * H * D);
const tableH = rand(127 * D, 0.1);
const tableW = rand(127 * D, 0.1);
const win = { batch: 25, lq: 196, lk: 196, heads: H, kvHeads: H, headDim: D, scale: 0.125 };
const qw = rand(25 * 196 * H * D);
const relWin = { h: 14, w: 14, tableH: rand(27 * D, 0.1), tableW: rand(27 * D, 0.1) };
const img = rand(3 * 1024 * 1024);
const kvCache = rand(8192 * 1280);
const wPatch = bf16(768, 3 * 16 * 16);
const act = rand(4096 * 3072, 4); // gelu is applied repeatedly: values stay finite and shrink toward 0+

for (const isa of levels) {
  const K: Kernels = createNativeKernels(isa);
  for (const th of [1, 2]) {
    K.setThreads(th);
    const row = (name: string, flops: number, sec: number) =>
      console.log(
        `${K.name.padEnd(14)} threads=${th}  ${name.padEnd(44)} ${(sec * 1e3).toFixed(2).padStart(9)} ms  ${(flops / sec / 1e9).toFixed(1).padStart(7)} GFLOP/s`,
      );
    row(
      "linear 4096x768x2304 bf16",
      2 * 4096 * 768 * 2304,
      time(() => K.linear(xQkv, 4096, wQkv, null)),
    );
    row(
      "linear 4096x768x2304 f32",
      2 * 4096 * 768 * 2304,
      time(() => K.linear(xQkv, 4096, wQkvF32, null)),
    );
    row(
      "linear 1x1280x6848 bf16",
      2 * 1280 * 6848,
      time(() => K.linear(x1, 1, wMlp, null)),
    );
    row(
      "linear 1x1280x6848 bf16, 6 weights in turn",
      2 * 1280 * 6848,
      time(() => K.linear(x1, 1, wCold[coldIdx++ % wCold.length], null)),
    );
    row(
      "linear 16x1280x6848 bf16",
      2 * 16 * 1280 * 6848,
      time(() => K.linear(x16, 16, wMlp, null)),
    );
    row(
      "attention 4096x4096 d64 x12 heads (+relPos)",
      4 * L * L * D * H,
      time(
        () =>
          K.attention(q, kv, kv, {
            lq: L,
            lk: L,
            heads: H,
            kvHeads: H,
            headDim: D,
            scale: 0.125,
            relPos: { h: 64, w: 64, tableH, tableW },
          }),
        2,
      ),
    );
    row(
      "attention 4096x4096 d64 x1 head",
      4 * L * L * D,
      time(() =>
        K.attention(q.subarray(0, L * D), kv.subarray(0, L * D), kv.subarray(0, L * D), {
          lq: L,
          lk: L,
          heads: 1,
          kvHeads: 1,
          headDim: D,
          scale: 0.125,
        }),
      ),
    );
    row(
      "attention decode lq=1 lk=2048 10x128 (cache 8192)",
      4 * 2048 * 128 * 10,
      time(() =>
        K.attention(q.subarray(0, 1280), kvCache, kvCache, {
          lq: 1,
          lk: 2048,
          heads: 10,
          kvHeads: 10,
          headDim: 128,
          scale: 128 ** -0.5,
          causalOffset: 2047,
          lkCapacity: 8192,
        }),
      ),
    );
    row(
      "attention SAM windows 25x196 x12 (+relPos)",
      4 * 25 * 196 * 196 * D * H,
      time(() => K.attention(qw, qw, qw, { ...win, relPos: relWin })),
    );
    row(
      "conv2d patch embed 3x1024² k16 s16 -> 768",
      2 * 4096 * 768 * 768,
      time(() => K.conv2d(img, wPatch, null, { c: 3, h: 1024, w: 1024, k: 16, stride: 16, pad: 0 })),
    );
    row(
      "gelu 4096x3072 in place (Gelem/s, not GFLOP/s)",
      4096 * 3072,
      time(() => K.gelu(act)),
    );
  }
}
