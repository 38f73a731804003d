/**
 * GEMM benchmark of the linear kernels on the model's large-M shapes (M x K x N):
 * bf16 packed (native/gemm_bf16-inl.h) and f32 on plain bf16 weights, 1 and 2 threads, GFLOP/s and
 * % of the measured vdpbf16ps (resp. zmm FMA) peak for the same thread count.
 *
 * The peak comes from scripts/bf16-peak.cc (compiled here with g++; skipped when that fails): the
 * best of several runs. On a shared machine every number is noisy: each figure is the best of
 * `--reps` timed runs (median printed too).
 *
 * The "per CPU-s" figure divides by this process's CPU time (less exposed to other processes).
 * `--peak G` fixes the single-thread vdpbf16ps peak (GFLOP/s) instead of measuring it.
 *
 * Usage: node --import tsx scripts/bench-gemm.ts [--reps 7] [--threads 1,2] [--shapes 4096x768x2304,...] [--small] [--peak G]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createNativeKernels } from "../src/kernels/native.ts";
import { f32ToBf16 } from "../src/kernels/reference.ts";
import type { PlainWeight, Weight } from "../src/kernels/types.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const reps = Number(opt("reps", "7"));
const threads = opt("threads", "1,2").split(",").map(Number);
const shapes = opt("shapes", "4096x768x2304,2304x768x3072,512x896x4864,1131x1280x1280")
  .split(",")
  .map((s) => s.split("x").map(Number) as [number, number, number]);
const small = args.includes("--small");

function peak(th: number, kind: "dot" | "fma"): number | null {
  const bin = join(ROOT, "build", "bf16-peak");
  try {
    mkdirSync(dirname(bin), { recursive: true });
    execFileSync("g++", [
      "-O2",
      "-mavx512f",
      "-mavx512bf16",
      "-pthread",
      "-o",
      bin,
      join(ROOT, "scripts", "bf16-peak.cc"),
    ]);
    let best = 0;
    for (let i = 0; i < 3; i++) best = Math.max(best, Number(execFileSync(bin, [String(th), kind]).toString()));
    return best;
  } catch {
    return null;
  }
}

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Best and median wall time, and the best CPU time of this process divided by the thread count
 * (less sensitive to other processes on a shared machine; includes the pool's brief spinning). */
function time(f: () => void, th: number): { best: number; median: number; cpu: number } {
  f();
  const t: number[] = [];
  let cpu = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    f();
    t.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6 / th);
  }
  t.sort((a, b) => a - b);
  return { best: t[0], median: t[t.length >> 1], cpu };
}

const K = createNativeKernels();
console.log(`kernels ${K.name}, best of ${reps} runs (median in parentheses)`);
for (const th of threads) {
  K.setThreads(th);
  // Peak for th threads: th x the best single-thread figure (other processes share this machine).
  const fixed = opt("peak", "");
  const p1 = [fixed ? Number(fixed) : peak(1, "dot"), peak(1, "fma")];
  const pDot = p1[0] && p1[0] * th;
  const pFma = p1[1] && p1[1] * th;
  console.log(
    `\nthreads ${th}: peak (${th} x 1 thread) vdpbf16ps ${pDot ?? "?"} GFLOP/s, zmm FMA ${pFma ?? "?"} GFLOP/s`,
  );
  const list = small
    ? [...shapes, [1, 1280, 1280] as [number, number, number], [8, 1280, 6848] as [number, number, number]]
    : shapes;
  for (const [m, k, n] of list) {
    const f = rand(n * k, 7);
    const u = new Uint16Array(n * k);
    for (let i = 0; i < u.length; i++) u[i] = f32ToBf16(f[i] * 0.05);
    const plain: PlainWeight = { dtype: "bf16", data: u, rows: n, cols: k };
    const packed: Weight = K.packWeight(plain, "bf16");
    const x = rand(m * k, 3);
    const flop = 2 * m * k * n;
    const line = (what: string, w: Weight, pk: number | null) => {
      const r = time(() => K.linear(x, m, w, null), th);
      const g = flop / r.best / 1e9;
      const gm = flop / r.median / 1e9;
      const gc = flop / r.cpu / 1e9;
      const pct = pk
        ? ` ${((100 * g) / pk).toFixed(0)}% of peak; per CPU-s ${gc.toFixed(1)} = ${((100 * gc) / pk).toFixed(0)}%`
        : "";
      console.log(
        `  ${`${m}x${k}x${n}`.padEnd(16)} ${what.padEnd(10)} ${(r.best * 1e3).toFixed(2).padStart(8)} ms ${g.toFixed(1).padStart(7)} GFLOP/s (${gm.toFixed(1)})${pct}`,
      );
    };
    line("bf16 pack", packed, pDot);
    line("f32", plain, pFma);
  }
}
