/**
 * `npm run bench [-- options]`: throughput of the engine against this machine's own limits,
 * measured in the same run (BENCHMARKS.md explains every figure).
 *
 * Options:
 *   --quick            fewer repeats and steps (smoke run; numbers are rough)
 *   --only <prefix>    only results whose name starts with a prefix (comma-separated or repeated)
 *   --threads <n>      compute threads (default: the kernel pool's default, the usable CPUs)
 *   --json <file>      also write { machine, results } there
 *   --model <dir>      real-size checkpoint (default .dsocr-cache/full-v2, generated when missing)
 *   --config <file>    config.json giving the GEMM shapes (default: the model's, else the full-v2 preset)
 *   --precision <p>    precision of encode/prefill: bf16 (default) or f32
 *   --no-peer          skip the oneDNN peer
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openCheckpoint } from "../src/checkpoint/safetensors.ts";
import { loadConfig } from "../src/config/config.ts";
import type { ModelConfig } from "../src/config/types.ts";
import {
  benchFmaPeak,
  benchReadBandwidth,
  cpuFeatures,
  createNativeKernels,
  defaultIsa,
  type FmaPeakKind,
} from "../src/kernels/native.ts";
import { f32ToBf16 } from "../src/kernels/reference.ts";
import type { Kernels, PackedWeight, Precision, Weight } from "../src/kernels/types.ts";
import { LanguageModel, type LmState } from "../src/model/language-model.ts";
import { VisionV2 } from "../src/model/vision-v2.ts";
import {
  type DecodePrecision,
  decodeBytes,
  encodeFlops,
  type GemmShape,
  gemmFlops,
  gemmName,
  kvCacheBytes,
  modelGemmShapes,
  prefillFlops,
} from "./counts.ts";
import { buildOneDnn, type PeerShape, runOneDnn } from "./peers/onednn.ts";
import { applyTargets, formatTable, type Machine, type Result, result, writeJson } from "./report.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PREFILL_ROWS = 1131; // 6 tiles x 144 + 256 + 1 image rows + a short prompt: one real page

interface Options {
  quick: boolean;
  only: string[];
  threads: number | null;
  json: string | null;
  model: string;
  config: string | null;
  precision: Precision;
  peer: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false,
    only: [],
    threads: null,
    json: null,
    model: join(ROOT, ".dsocr-cache", "full-v2"),
    config: null,
    precision: "bf16",
    peer: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--only") o.only.push(...val().split(",").filter(Boolean));
    else if (a === "--threads") o.threads = Number(val());
    else if (a === "--json") o.json = resolve(val());
    else if (a === "--model") o.model = resolve(val());
    else if (a === "--config") o.config = resolve(val());
    else if (a === "--precision") o.precision = val() as Precision;
    else if (a === "--no-peer") o.peer = false;
    else throw new Error(`bench: unknown option ${a}`);
  }
  if (o.threads !== null && !(Number.isInteger(o.threads) && o.threads >= 1))
    throw new Error("bench: --threads must be a positive integer");
  if (o.precision !== "bf16" && o.precision !== "f32") throw new Error("bench: --precision must be bf16 or f32");
  return o;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const now = () => performance.now() / 1000;

/** Deterministic uniform values in [-s, s). */
function rand(n: number, s = 1, seed = 12345): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    a[i] = ((x >>> 8) / 16777216 - 0.5) * 2 * s;
  }
  return a;
}

/** Median seconds of `reps` calls after one warm-up call. */
function timeMedian(f: () => void, reps: number, warmup = true): number {
  if (warmup) f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = now();
    f();
    ts.push(now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

function argmax(x: Float32Array): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}

/** Checkpoint bytes: the sizes of the *.safetensors files. */
function checkpointBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".safetensors"))
    .reduce((s, f) => s + statSync(join(dir, f)).size, 0);
}

function ensureModel(dir: string): void {
  if (existsSync(join(dir, "config.json"))) return;
  log(`bench: generating the real-size random checkpoint in ${dir} (once; ~7 GB)`);
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "bin", "dsocr.js"), "make-random", "--preset", "full-v2", "--out", dir],
    {
      stdio: "inherit",
    },
  );
  if (r.status !== 0) throw new Error(`bench: make-random failed (status ${r.status})`);
}

// ---- machine ----------------------------------------------------------------------------------

interface Limits {
  machine: Machine;
  /** GFLOP/s limit of a matmul precision. */
  peak: (p: "f32" | "bf16") => number;
  peakKind: (p: "f32" | "bf16") => FmaPeakKind | null;
}

function measureMachine(threads: number, quick: boolean): Limits {
  const f = cpuFeatures();
  const flags = (
    ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512bf16", "avx512vnni"] as const
  ).filter((k) => f[k]);
  log(`bench: measuring read bandwidth and FMA peak on ${threads} threads`);
  const readGbps = benchReadBandwidth((quick ? 512 : 1024) * 2 ** 20, threads, quick ? 5 : 12);
  const fma: Record<string, number> = {};
  const kinds: FmaPeakKind[] = [];
  if (f.avx2 && f.fma) kinds.push("f32-avx2");
  if (f.avx512f) kinds.push("f32-avx512");
  if (f.avx512f && f.avx512bf16) kinds.push("bf16-avx512");
  for (const k of kinds) fma[k] = benchFmaPeak(k, threads);
  // The loop of the instruction set the kernels use: f32 FMA at the level they run at (the best
  // one, or the lower one DSOCR_ISA forces); bf16 at the AVX-512 level of an AVX512_BF16 CPU is
  // vdpbf16ps, elsewhere bf16 runs as f32 FMAs on widened values.
  const isa = defaultIsa();
  const f32Kind: FmaPeakKind | null = isa === "avx512" ? "f32-avx512" : isa === "avx2" ? "f32-avx2" : null;
  const peakKind = (p: "f32" | "bf16") =>
    p === "bf16" && isa === "avx512" && fma["bf16-avx512"] ? "bf16-avx512" : f32Kind;
  const peak = (p: "f32" | "bf16") => {
    const k = peakKind(p);
    return k ? fma[k] : Number.NaN;
  };
  return {
    machine: { cpu: f.model, flags, isa, threads, read_gbps: readGbps, fma_gflops: fma },
    peak,
    peakKind,
  };
}

// ---- GEMM -------------------------------------------------------------------------------------

function benchGemm(
  k: Kernels,
  shapes: GemmShape[],
  lim: Limits,
  o: Options,
  want: (name: string) => boolean,
): Result[] {
  const out: Result[] = [];
  const reps = o.quick ? 2 : 5;
  const peerShapes: PeerShape[] = [];
  for (const s of shapes) {
    for (const p of s.precisions ?? (["f32", "bf16"] as const)) {
      const name = gemmName(s, p);
      if (!want(name)) continue;
      const x = rand(s.m * s.k, 1, s.m + s.k);
      const wf = rand(s.n * s.k, 0.05, s.n);
      let w: Weight;
      if (p === "f32") w = { dtype: "f32", data: wf, rows: s.n, cols: s.k };
      else {
        const u = new Uint16Array(wf.length);
        for (let i = 0; i < wf.length; i++) u[i] = f32ToBf16(wf[i]);
        w = k.packWeight({ dtype: "bf16", data: u, rows: s.n, cols: s.k }, p);
      }
      const flops = gemmFlops(s.m, s.k, s.n);
      // Into one reused output, as the model's large GEMMs run (and as the oneDNN peer does): the
      // kernel's time, not the page faults of a fresh [M, N] array per call.
      const y = new Float32Array(s.m * s.n);
      const sec = timeMedian(() => k.linear(x, s.m, w, null, y), reps);
      // int8 runs on the bf16 dot products where the CPU has them (exact int8 values), else as
      // f32 FMAs on dequantised weights: the bf16 limit either way.
      const kind = lim.peakKind(p === "int8" ? "bf16" : p);
      out.push(
        result(name, flops / sec / 1e9, "GFLOP/s", lim.peak(p === "int8" ? "bf16" : p), {
          flops,
          seconds: sec,
          note: `${s.uses.join(", ")}; limit ${kind ?? "none"}`,
        }),
      );
      if (p !== "int8") peerShapes.push({ precision: p, m: s.m, k: s.k, n: s.n }); // (no oneDNN int8-weight matmul here)
      log(`  ${name}: ${(flops / sec / 1e9).toFixed(1)} GFLOP/s`);
    }
  }
  if (out.length === 0) return out;
  if (!o.peer) return out;
  const built = buildOneDnn(join(ROOT, ".dsocr-cache", "bench"));
  // int8 rows have no peer (oneDNN 2.6 has no int8-weight x bf16-activation matmul): left undefined.
  const peered = out.filter((r) => !r.name.endsWith(".int8"));
  if ("unavailable" in built) {
    for (const r of peered) r.peer = null;
    log(`bench: oneDNN peer ${built.unavailable}`);
    return out;
  }
  log("bench: timing the oneDNN peer");
  const peer = runOneDnn(built.exe, peerShapes, reps, lim.machine.threads);
  for (const r of peered) {
    const [, dims, p] = r.name.split(".");
    const sec = peer.get(`${p}:${dims}`);
    r.peer = sec ? (r.flops as number) / sec / 1e9 : null;
    r.ratio = r.peer && r.value ? r.value / r.peer : null;
  }
  return out;
}

// ---- model stages -----------------------------------------------------------------------------

/**
 * The language model in `precision`, and a function that frees its packed weights (each stage
 * releases its model before the next loads one: two real-size models at once would measure the
 * second under memory pressure).
 */
function loadLm(
  k: Kernels,
  dir: string,
  cfg: ModelConfig,
  precision: Precision,
): { lm: LanguageModel; release: () => void } {
  const ckpt = openCheckpoint(dir);
  const packed: PackedWeight[] = [];
  try {
    const lm = LanguageModel.load({ ckpt, k, precision, role: "lm", packed }, cfg.language);
    return { lm, release: () => releaseAll(k, packed) };
  } catch (e) {
    releaseAll(k, packed);
    throw e;
  } finally {
    ckpt.close();
  }
}

function releaseAll(k: Kernels, packed: PackedWeight[]): void {
  for (const w of packed) k.releaseWeight?.(w);
  packed.length = 0;
}

function benchEncode(k: Kernels, o: Options, cfg: ModelConfig, lim: Limits, want: (n: string) => boolean): Result[] {
  const names = ["encode.tiles0", "encode.tiles6"].filter(want);
  if (names.length === 0) return [];
  log(`bench: loading the vision encoder (${o.precision})`);
  const ckpt = openCheckpoint(o.model);
  const packed: PackedWeight[] = [];
  let vision: VisionV2;
  try {
    vision = VisionV2.load({ ckpt, k, precision: o.precision, role: "vision", packed }, cfg);
  } finally {
    ckpt.close();
  }
  const global = rand(3 * 1024 * 1024, 1, 7);
  const out: Result[] = [];
  for (const name of names) {
    const tiles = name === "encode.tiles6" ? Array.from({ length: 6 }, (_, i) => rand(3 * 768 * 768, 1, 100 + i)) : [];
    const flops = encodeFlops(cfg, tiles.length);
    const reps = o.quick ? 1 : tiles.length ? 2 : 3;
    log(`  ${name}: ${reps} run(s) after a warm-up`);
    const sec = timeMedian(
      () => vision.encodeImage({ global, globalSize: 1024, tiles, tileSize: 768 }),
      reps,
      name === "encode.tiles0" || !names.includes("encode.tiles0"),
    );
    out.push(
      result(name, flops / sec / 1e9, "GFLOP/s", lim.peak(o.precision === "f32" ? "f32" : "bf16"), {
        flops,
        seconds: sec,
        note: `${o.precision}; ${sec.toFixed(2)} s per image`,
      }),
    );
    log(`  ${name}: ${sec.toFixed(2)} s, ${(flops / sec / 1e9).toFixed(1)} GFLOP/s`);
  }
  releaseAll(k, packed);
  return out;
}

/** Decode steps from `state` (greedy on its own logits): median seconds per step. */
function decodeSteps(lm: LanguageModel, state: LmState, first: number, steps: number): number {
  let id = first;
  const ts: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = now();
    const logits = lm.decode(state, id);
    ts.push(now() - t0);
    id = argmax(logits);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

function randomIds(n: number, vocab: number, seed: number): number[] {
  const r = rand(n, 0.5, seed);
  return Array.from(r, (v) => Math.floor((v + 0.5) * (vocab - 1000)) + 100);
}

/**
 * Prefill of PREFILL_ROWS rows from position 0: one warm-up run (its time, the cold first prefill
 * with its page faults, goes into the note), then the median of `reps` timed runs. Returns the
 * result (when `name` is wanted) and the last run's state and logits, which feed decode.b1 (a real
 * page's context).
 */
function timedPrefill(
  lm: LanguageModel,
  cfg: ModelConfig,
  name: string,
  precision: Precision,
  reps: number,
  lim: Limits,
): { result: Result | null; state: LmState; logits: Float32Array } {
  const embeds = lm.embed(randomIds(PREFILL_ROWS, cfg.language.vocabSize, 3));
  let state = lm.newState(PREFILL_ROWS + 64);
  let logits: Float32Array = new Float32Array(0);
  const ts: number[] = [];
  let cold = 0;
  for (let r = 0; r <= reps; r++) {
    state = lm.newState(PREFILL_ROWS + 64);
    const t0 = now();
    logits = lm.prefill(state, embeds, PREFILL_ROWS);
    if (r === 0) cold = now() - t0;
    else ts.push(now() - t0);
  }
  if (reps === 0) return { result: null, state, logits };
  ts.sort((x, y) => x - y);
  const sec = ts[Math.floor(ts.length / 2)];
  const flops = prefillFlops(cfg.language, PREFILL_ROWS);
  log(
    `  ${name}: ${sec.toFixed(2)} s (cold first run ${cold.toFixed(2)} s), ${(flops / sec / 1e9).toFixed(1)} GFLOP/s`,
  );
  return {
    result: result(name, flops / sec / 1e9, "GFLOP/s", lim.peak("bf16"), {
      flops,
      seconds: sec,
      note: `${precision}; ${sec.toFixed(2)} s (median after a warm-up; cold first run ${cold.toFixed(2)} s)`,
    }),
    state,
    logits,
  };
}

/**
 * decode.b1.<precision>: greedy steps after the prefill `p`. The limit's bytes are the weights read
 * per token and the bf16 KV cache at the median step's context (~70 MB at 1131 positions: a step
 * cannot be faster than reading both).
 */
function decodeB1(
  lm: LanguageModel,
  p: { state: LmState; logits: Float32Array },
  precision: DecodePrecision,
  steps: number,
  bw: number,
): Result {
  const name = `decode.b1.${precision}`;
  const weights = decodeBytes(lm.config, precision);
  const positions = PREFILL_ROWS + Math.floor(steps / 2);
  const kv = kvCacheBytes(lm.config, positions);
  const sec = decodeSteps(lm, p.state, argmax(p.logits), steps);
  log(`  ${name}: ${(1 / sec).toFixed(2)} tokens/s`);
  return result(name, 1 / sec, "tokens/s", bw / (weights + kv), {
    bytes: weights + kv,
    seconds: sec,
    note: `after ${PREFILL_ROWS} prefill rows; bytes: weights ${(weights / 1e9).toFixed(3)} GB + KV cache ${(kv / 1e9).toFixed(3)} GB (${positions} positions)`,
  });
}

function benchLm(k: Kernels, o: Options, cfg: ModelConfig, lim: Limits, want: (n: string) => boolean): Result[] {
  const out: Result[] = [];
  const lmCfg = cfg.language;
  const bw = lim.machine.read_gbps * 1e9;
  const prefillName = `prefill.${PREFILL_ROWS}`;
  const prefillReps = o.quick ? 1 : 3;
  if ([prefillName, "decode.b1.bf16", "decode.b8.bf16"].some(want)) {
    log("bench: loading the language model (bf16)");
    const { lm, release } = loadLm(k, o.model, cfg, "bf16");
    if (want(prefillName) || want("decode.b1.bf16")) {
      const p = timedPrefill(lm, cfg, prefillName, "bf16", want(prefillName) ? prefillReps : 0, lim);
      if (p.result) out.push(p.result);
      if (want("decode.b1.bf16")) out.push(decodeB1(lm, p, "bf16", o.quick ? 6 : 24, bw));
    }
    if (want("decode.b8.bf16")) {
      const ctx = 64;
      const steps = o.quick ? 4 : 16;
      const kv = 8 * kvCacheBytes(lmCfg, ctx + Math.floor(steps / 2));
      const bytes = decodeBytes(lmCfg, "bf16", 8) + kv;
      const states = Array.from({ length: 8 }, (_, i) => {
        const st = lm.newState(ctx + 64);
        lm.prefill(st, lm.embed(randomIds(ctx, lmCfg.vocabSize, 50 + i)), ctx);
        return st;
      });
      let ids = states.map((_, i) => 1000 + i);
      const ts: number[] = [];
      for (let i = 0; i < steps; i++) {
        const t0 = now();
        const ls = lm.decodeBatch(states, ids);
        ts.push(now() - t0);
        ids = ls.map(argmax);
      }
      ts.sort((x, y) => x - y);
      const sec = ts[Math.floor(ts.length / 2)];
      out.push(
        result("decode.b8.bf16", 8 / sec, "tokens/s", (8 * bw) / bytes, {
          bytes,
          seconds: sec,
          note: `8 sequences after ${ctx} prefill rows each`,
        }),
      );
      log(`  decode.b8.bf16: ${(8 / sec).toFixed(2)} tokens/s`);
    }
    release();
  }
  const prefillInt8 = `${prefillName}.int8`;
  if ([prefillInt8, "decode.b1.int8"].some(want)) {
    log("bench: loading the language model (int8)");
    const { lm, release } = loadLm(k, o.model, cfg, "int8");
    const p = timedPrefill(lm, cfg, prefillInt8, "int8", want(prefillInt8) ? prefillReps : 0, lim);
    if (p.result) out.push(p.result);
    if (want("decode.b1.int8")) out.push(decodeB1(lm, p, "int8", o.quick ? 6 : 24, bw));
    release();
  }
  return out;
}

/**
 * rss.peak.bf16 (limit: the checkpoint's bytes) and load.bf16 (seconds of OcrEngine.load, no limit:
 * reading the checkpoint from the page cache and packing it), from one child process.
 */
function benchRss(o: Options, threads: number): Result[] {
  const limit = checkpointBytes(o.model);
  const tiles = o.quick ? 0 : 6;
  log(`bench: load time and peak RSS of a bf16 engine load + one page (${tiles} tiles) in a child process`);
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench", "rss-child.ts"), o.model, "bf16", String(tiles), String(threads)],
    { encoding: "utf8", cwd: ROOT, maxBuffer: 1 << 20 },
  );
  const m = /RSS_PEAK_BYTES=(\d+)/.exec(r.stdout || "");
  const t = /LOAD_SECONDS=([\d.]+)/.exec(r.stdout || "");
  if (r.status !== 0 || !m || !t) {
    const why = (r.stderr || "").trim().split("\n").slice(-1)[0] || `status ${r.status}`;
    return [
      result("rss.peak.bf16", null, "bytes", limit, { bytes: limit, note: `child failed: ${why}` }),
      result("load.bf16", null, "s", null, { bytes: limit, note: `child failed: ${why}` }),
    ];
  }
  return [
    result("rss.peak.bf16", Number(m[1]), "bytes", limit, {
      bytes: limit,
      note: `limit = checkpoint bytes; page with ${tiles} tiles`,
    }),
    result("load.bf16", Number(t[1]), "s", null, {
      bytes: limit,
      note: "OcrEngine.load, checkpoint in the page cache (the first run reads the disk)",
    }),
  ];
}

// ---- main -------------------------------------------------------------------------------------

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const want = (name: string) => o.only.length === 0 || o.only.some((p) => name.startsWith(p));
  const k = createNativeKernels();
  if (o.threads) k.setThreads(o.threads);
  const threads = k.getThreads();
  const lim = measureMachine(threads, o.quick);
  const needModel = ["encode.", "prefill.", "decode.", "rss.", "load."].some(
    (p) => o.only.length === 0 || o.only.some((q) => q.startsWith(p) || p.startsWith(q)),
  );
  if (needModel) ensureModel(o.model);
  const cfgPath =
    o.config ??
    (existsSync(join(o.model, "config.json"))
      ? join(o.model, "config.json")
      : join(ROOT, "src", "checkpoint", "presets", "full-v2.json"));
  const cfg = loadConfig(cfgPath);
  const results: Result[] = [];
  // RSS first, while this process holds no model.
  if (want("rss.peak.bf16") || want("load.bf16")) results.push(...benchRss(o, threads).filter((r) => want(r.name)));
  results.push(...benchGemm(k, modelGemmShapes(cfg, PREFILL_ROWS), lim, o, want));
  if (needModel) {
    const modelCfg = loadConfig(join(o.model, "config.json"));
    results.push(...benchEncode(k, o, modelCfg, lim, want));
    results.push(...benchLm(k, o, modelCfg, lim, want));
  }
  applyTargets(results);
  const m = lim.machine;
  const fma = Object.entries(m.fma_gflops)
    .map(([kind, v]) => `${kind} ${v.toFixed(1)}`)
    .join(", ");
  console.log(`CPU: ${m.cpu}; flags: ${m.flags.join(" ")}; kernels: ${m.isa}; threads: ${m.threads}`);
  console.log(`limits: read ${m.read_gbps.toFixed(2)} GB/s; FMA peak GFLOP/s: ${fma}`);
  console.log(
    `bf16 matmul peak = ${lim.peakKind("bf16")} (vdpbf16ps counted as 2 FMA = 4 FLOP per f32 lane); f32 = ${lim.peakKind("f32")}`,
  );
  console.log(formatTable(results));
  for (const r of results) if (r.name.startsWith("decode.b8.") && r.note) console.log(`${r.name}: ${r.note}`);
  if (o.json) {
    writeJson(o.json, m, results);
    console.log(`wrote ${o.json}`);
  }
}

main();
