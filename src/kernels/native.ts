/**
 * The native kernels: the C++17 Node-API addon built from `native/` (`npm run build:native`,
 * output `build/Release/dsocr_native.node`), wrapped in the {@link Kernels} contract.
 *
 * - One binary carries a portable scalar path and AVX2+FMA and AVX-512 paths; the level is picked
 *   at run time from the CPU's features (cpuid). `DSOCR_ISA=scalar|avx2|avx512` selects a lower
 *   level (a level above what the CPU supports falls back to the best supported one).
 * - `DSOCR_THREADS=n` sets the initial size of the addon's single thread pool (default: the CPUs
 *   this process may run on); `setThreads(n)` changes it later. The pool is shared by all
 *   kernel objects.
 * - Every argument is validated here (RangeError / TypeError with a clear message) before the
 *   addon is called; the addon checks the sizes again, so it never reads out of bounds.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  bf16ToF32,
  f32ToBf16,
  packWeightReference,
  type RefPackedBf16,
  referenceKernels,
  ropeInvFreq,
} from "./reference.ts";
import {
  type AttentionParams,
  type Conv2dParams,
  type FusedMoe,
  type FusedMoeSpec,
  INT8_GROUP,
  type Kernels,
  type KvArray,
  type PackedWeight,
  type PackFormat,
  type Weight,
} from "./types.ts";

export type IsaLevel = "scalar" | "avx2" | "avx512";

/** ISA levels in increasing order (the addon's numbering). */
export const ISA_LEVELS: readonly IsaLevel[] = ["scalar", "avx2", "avx512"];

/** CPU features as detected by the addon (cpuid + OS support of the register state). */
export interface CpuFeatures {
  avx2: boolean;
  fma: boolean;
  f16c: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512dq: boolean;
  avx512vl: boolean;
  avx512bf16: boolean;
  avx512vnni: boolean;
  /** CPU model name (cpuid brand string, else /proc/cpuinfo or os.cpus()). */
  model: string;
  /** Best ISA level the kernels can use on this CPU. */
  bestIsa: IsaLevel;
}

type F32 = Float32Array;
type Nullable<T> = T | null;

/** The raw addon (see native/addon.cc). First argument of every kernel: ISA level 0..2. */
interface Addon {
  cpuFeatures(): Omit<CpuFeatures, "bestIsa"> & { bestIsa: number };
  setThreads(n: number): void;
  getThreads(): number;
  defaultThreads(): number;
  linear(
    isa: number,
    x: F32,
    m: number,
    w: Uint16Array | F32,
    n: number,
    k: number,
    bias: Nullable<F32>,
    out: F32,
  ): void;
  layerNorm(isa: number, x: F32, rows: number, cols: number, w: F32, b: F32, eps: number, out: F32): void;
  rmsNorm(isa: number, x: F32, rows: number, cols: number, w: F32, eps: number, out: F32): void;
  softmax(isa: number, x: F32, rows: number, cols: number): void;
  gelu(isa: number, x: F32): void;
  quickGelu(isa: number, x: F32): void;
  silu(isa: number, x: F32): void;
  swiglu(isa: number, gate: F32, up: F32): void;
  add(isa: number, a: F32, b: F32): void;
  roundBf16(isa: number, x: F32, out: Uint16Array, offset: number): void;
  rope(isa: number, x: F32, rows: number, heads: number, headDim: number, pos: Int32Array, invFreq: F32): void;
  attention(
    isa: number,
    q: F32,
    k: F32 | Uint16Array,
    v: F32 | Uint16Array,
    out: F32,
    batch: number,
    lq: number,
    lk: number,
    heads: number,
    kvHeads: number,
    headDim: number,
    lkCapacity: number,
    causal: boolean,
    causalOffset: number,
    scale: number,
    mask: Nullable<F32>,
    tableH: Nullable<F32>,
    tableW: Nullable<F32>,
    relH: number,
    relW: number,
    bf16: boolean,
  ): void;
  conv2d(
    isa: number,
    x: F32,
    c: number,
    h: number,
    w: number,
    k: number,
    stride: number,
    pad: number,
    weight: Uint16Array | F32,
    outChannels: number,
    bias: Nullable<F32>,
    out: F32,
  ): void;
  packWeight(
    isa: number,
    w: Uint16Array | F32,
    rows: number,
    cols: number,
    format: number,
    group: number,
  ): NativePackResult;
  releasePacked(handle: unknown): number;
  savePacked(handle: unknown, fd: number, position: number): number;
  loadPacked(
    fd: number,
    position: number,
    format: number,
    rows: number,
    cols: number,
    group: number,
  ): { handle: unknown; bytes: number; fileBytes: number };
  linearPacked(isa: number, x: F32, m: number, handle: unknown, bias: Nullable<F32>, out: F32): void;
  conv2dPacked(
    isa: number,
    x: F32,
    c: number,
    h: number,
    w: number,
    k: number,
    stride: number,
    pad: number,
    handle: unknown,
    bias: Nullable<F32>,
    out: F32,
  ): void;
  setBf16Dot(on: boolean): boolean;
  unpackInt8(handle: unknown): { q: Int8Array; scales: F32 };
  // native/addon_decode.cc
  moeCreate(
    gate: Uint16Array | F32,
    experts: number,
    hidden: number,
    topK: number,
    normTopk: boolean,
    scaling: number,
    inter: number,
    sharedInter: number,
    weights: unknown[],
  ): unknown;
  moeForward(
    isa: number,
    layer: unknown,
    x: F32,
    m: number,
    out: F32,
    scores: Nullable<F32>,
    idx: Int32Array | null,
    weight: Nullable<F32>,
  ): void;
  /** native/bench.cc (for `npm run bench`): streaming read bandwidth, GB/s. */
  benchReadBandwidth(bytes: number, threads: number, repeats: number): number;
  /** native/bench.cc: FMA-throughput peak, GFLOP/s. */
  benchFmaPeak(kind: FmaPeakKind, threads: number): number;
}

/** FMA loops of {@link benchFmaPeak}: vfmadd231ps ymm / zmm, or vdpbf16ps zmm (2 FMAs per f32 lane). */
export type FmaPeakKind = "f32-avx2" | "f32-avx512" | "bf16-avx512";

/**
 * Streaming read bandwidth in GB/s (1e9 B/s): best of `repeats` passes of `threads` std::threads
 * summing their shares of a `bytes`-byte buffer (the bench's decode limit; see native/bench.cc).
 */
export function benchReadBandwidth(bytes: number, threads: number, repeats = 3): number {
  return loadAddon().benchReadBandwidth(bytes, threads, repeats);
}

/** FMA peak in GFLOP/s of a register-resident loop of the given kind on `threads` threads (native/bench.cc). */
export function benchFmaPeak(kind: FmaPeakKind, threads: number): number {
  return loadAddon().benchFmaPeak(kind, threads);
}

interface NativePackResult {
  handle: unknown;
  bytes: number;
}

/** `PackedWeight.handle` of a weight packed by the addon (owns a native `Packed`, freed by the GC). */
class NativePacked {
  constructor(readonly external: unknown) {}
}

/** The native handle of a packed weight, or null for one packed elsewhere (e.g. the reference). */
function nativeHandle(w: PackedWeight): unknown {
  return w.handle instanceof NativePacked ? w.handle.external : null;
}

/**
 * Tests only: `false` makes the AVX-512 bf16 kernels use the AVX-512F widening path even where the
 * CPU has AVX512_BF16 (`vdpbf16ps`). Returns whether this CPU has AVX512_BF16.
 */
export function setBf16DotForTests(on: boolean): boolean {
  return loadAddon().setBf16Dot(on);
}

/**
 * Tests only: the quantised values `q` `[rows * cols]` and scales `[rows * ceil(cols / group)]` of a
 * native `int8` pack, read back out of its panel layout, row-major as the reference pack's (RefPackedInt8).
 * @throws TypeError for a weight that is not a native int8 pack
 */
export function unpackInt8ForTests(w: PackedWeight): { q: Int8Array; scales: Float32Array } {
  const h = nativeHandle(w);
  if (!h || w.format !== "int8") throw new TypeError("unpackInt8ForTests: not a native int8 pack");
  return loadAddon().unpackInt8(h);
}

/** Native pack formats (native/packed.h PackFmt): bf16 (native/pack_bf16.cc), int8 (native/pack_int8.cc). */
const NATIVE_PACK: Partial<Record<PackFormat, number>> = { bf16: 0, int8: 1 };

/** Repository root (this file is src/kernels/native.ts). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Where `npm run build:native` puts the addon. */
export const ADDON_PATH = join(ROOT, "build", "Release", "dsocr_native.node");

let addon: Addon | null = null;

/** Loads the addon once. Throws an Error that says to run `npm run build:native` when it is missing. */
export function loadAddon(): Addon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  let a: Addon;
  try {
    a = require(ADDON_PATH) as Addon;
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new Error(
      `dsocr: the native kernels are not available (${why}). Build them with \`npm run build:native\` ` +
        "(or set DSOCR_KERNELS=reference to use the slow TypeScript reference kernels).",
      { cause: e },
    );
  }
  const t = process.env.DSOCR_THREADS;
  if (t !== undefined && t !== "") {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`DSOCR_THREADS must be a positive integer, got "${t}"`);
    a.setThreads(n);
  }
  addon = a;
  return a;
}

/** True when the addon is built and loads. */
export function nativeAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

function fallbackModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? "unknown";
}

/** CPU features and model name. */
export function cpuFeatures(): CpuFeatures {
  const f = loadAddon().cpuFeatures();
  return { ...f, model: f.model || fallbackModel(), bestIsa: ISA_LEVELS[f.bestIsa] };
}

/** The ISA levels this CPU can run, lowest first (always includes "scalar"). */
export function supportedIsaLevels(): IsaLevel[] {
  return ISA_LEVELS.slice(0, loadAddon().cpuFeatures().bestIsa + 1);
}

/** The level used by default: the best supported, or DSOCR_ISA if that is lower. */
export function defaultIsa(): IsaLevel {
  const best = loadAddon().cpuFeatures().bestIsa;
  const env = process.env.DSOCR_ISA;
  if (env === undefined || env === "") return ISA_LEVELS[best];
  const want = ISA_LEVELS.indexOf(env as IsaLevel);
  if (want < 0) throw new RangeError(`DSOCR_ISA must be one of ${ISA_LEVELS.join(", ")}, got "${env}"`);
  return ISA_LEVELS[Math.min(want, best)];
}

// ---- argument checks --------------------------------------------------------------------------

function checkDim(fn: string, name: string, v: number, min = 0): void {
  if (!Number.isSafeInteger(v) || v < min)
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min}, got ${v}`);
}

function checkF32(fn: string, name: string, a: unknown, expected?: number): asserts a is F32 {
  if (!(a instanceof Float32Array)) throw new TypeError(`${fn}: ${name} must be a Float32Array`);
  if (expected !== undefined && a.length !== expected) {
    throw new RangeError(`${fn}: ${name} has ${a.length} values, expected ${expected}`);
  }
}

/** K or V of attention: a Float32Array or a Uint16Array (bf16 bit patterns) of `expected` values. */
function checkKv(fn: string, name: string, a: unknown, expected: number): asserts a is KvArray {
  if (!(a instanceof Float32Array || a instanceof Uint16Array)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array or a Uint16Array (bf16)`);
  }
  if (a.length !== expected) throw new RangeError(`${fn}: ${name} has ${a.length} values, expected ${expected}`);
}

function checkWeight(fn: string, w: Weight): void {
  checkDim(fn, "weight.rows", w.rows);
  checkDim(fn, "weight.cols", w.cols);
  if (w.dtype === "bf16") {
    if (!(w.data instanceof Uint16Array)) throw new TypeError(`${fn}: a bf16 weight needs a Uint16Array`);
  } else if (w.dtype === "f32") {
    if (!(w.data instanceof Float32Array)) throw new TypeError(`${fn}: an f32 weight needs a Float32Array`);
  } else {
    throw new TypeError(`${fn}: unknown weight dtype ${(w as { dtype: unknown }).dtype}`);
  }
  if (w.data.length !== w.rows * w.cols) {
    throw new RangeError(`${fn}: weight data has ${w.data.length} values, expected ${w.rows}x${w.cols}`);
  }
}

const invFreqCache = new Map<string, F32>();

function invFreq(headDim: number, theta: number): F32 {
  const key = `${headDim}:${theta}`;
  let f = invFreqCache.get(key);
  if (!f) {
    f = ropeInvFreq(headDim, theta);
    invFreqCache.set(key, f);
  }
  return f;
}

/** Native kernels at the given ISA level (default: {@link defaultIsa}). */
export function createNativeKernels(isa: IsaLevel = defaultIsa()): Kernels {
  const A = loadAddon();
  const level = ISA_LEVELS.indexOf(isa);
  if (level < 0) throw new RangeError(`unknown ISA level "${isa}"`);
  if (level > A.cpuFeatures().bestIsa) throw new RangeError(`this CPU cannot run the ${isa} kernels`);

  /**
   * Packed weights: packed by the addon, `bf16` runs the native bf16 GEMM (native/gemm_bf16-inl.h) and
   * `int8` the int8 kernels (native/pack_int8.cc); a weight packed by the reference kernels takes the
   * slow paths (reference `bf16`: the f32 kernel on the input rounded to bf16; `int8`: the reference).
   */
  const linearOut = (m: number, n: number, out: F32 | undefined): F32 => {
    if (out === undefined) return new Float32Array(m * n);
    checkF32("linear", "out", out, m * n);
    return out;
  };
  const linearPacked = (x: F32, m: number, w: PackedWeight, bias?: F32 | null, out?: F32): F32 => {
    const h = nativeHandle(w);
    if (h !== null) {
      checkDim("linear", "m", m);
      checkF32("linear", "x", x);
      if (x.length !== m * w.cols) throw new RangeError(`linear: x has ${x.length} values, expected ${m}x${w.cols}`);
      if (bias !== undefined && bias !== null) checkF32("linear", "bias", bias, w.rows);
      const y = linearOut(m, w.rows, out);
      A.linearPacked(level, x, m, h, bias ?? null, y);
      return y;
    }
    if (w.format !== "bf16") return referenceKernels.linear(x, m, w, bias, out);
    const xr = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) xr[i] = bf16ToF32(f32ToBf16(x[i]));
    const data = (w.handle as RefPackedBf16).data;
    return kernels.linear(xr, m, { dtype: "bf16", data, rows: w.rows, cols: w.cols }, bias, out);
  };

  const kernels: Kernels = {
    name: `native-${isa}`,
    setThreads(n: number) {
      checkDim("setThreads", "n", n, 1);
      A.setThreads(n);
    },
    getThreads: () => A.getThreads(),

    packWeight(w, format, opts) {
      const fmt = NATIVE_PACK[format];
      if (fmt === undefined || w.dtype === "packed") return packWeightReference(w, format, opts);
      checkWeight("packWeight", w);
      const group = opts?.group ?? INT8_GROUP;
      if (format === "int8" && group !== 32 && group !== 64 && group !== 128)
        throw new RangeError(`packWeight: int8 group must be 32, 64 or 128, got ${group}`);
      const r = A.packWeight(level, w.data, w.rows, w.cols, fmt, group);
      return {
        dtype: "packed",
        format,
        rows: w.rows,
        cols: w.cols,
        bytes: r.bytes,
        handle: new NativePacked(r.handle),
      };
    },

    releaseWeight(w) {
      const h = nativeHandle(w);
      if (h) A.releasePacked(h);
    },

    savePacked(w, fd, position) {
      const h = nativeHandle(w);
      if (!h) throw new TypeError("savePacked: not a native packed weight");
      return A.savePacked(h, fd, position);
    },

    loadPacked(fd, position, format, rows, cols, group) {
      const fmt = NATIVE_PACK[format];
      if (fmt === undefined) throw new RangeError(`loadPacked: unknown format ${format}`);
      const r = A.loadPacked(fd, position, fmt, rows, cols, group);
      const weight: PackedWeight = {
        dtype: "packed",
        format,
        rows,
        cols,
        bytes: r.bytes,
        handle: new NativePacked(r.handle),
      };
      return { weight, fileBytes: r.fileBytes };
    },

    fuseMoe(spec: FusedMoeSpec): FusedMoe | null {
      // Plain weights and native packs only (the interim reference-packed bf16 runs op by op).
      const arg = (w: Weight): unknown => {
        if (w.dtype !== "packed") return w.data;
        return nativeHandle(w) ?? undefined;
      };
      const mlps = spec.shared ? [...spec.experts, spec.shared] : spec.experts;
      const weights: unknown[] = [];
      for (const e of mlps) weights.push(arg(e.gate), arg(e.up), arg(e.down));
      if (weights.some((w) => w === undefined)) return null;
      const e = spec.experts.length;
      const inter = e > 0 ? spec.experts[0].gate.rows : 0;
      const sharedInter = spec.shared ? spec.shared.gate.rows : 0;
      const h = spec.hidden;
      const layer = A.moeCreate(
        spec.gate.data,
        e,
        h,
        spec.topK,
        spec.normTopkProb,
        spec.routedScalingFactor,
        inter,
        sharedInter,
        weights,
      );
      const keep = { spec, weights }; // the native layer points into these arrays
      return {
        forward(x, m, routing) {
          checkDim("moe", "m", m);
          checkF32("moe", "x", x, m * h);
          const out = new Float32Array(m * h);
          A.moeForward(level, layer, x, m, out, routing?.scores ?? null, routing?.idx ?? null, routing?.weight ?? null);
          void keep;
          return out;
        },
      };
    },

    linear(x, m, w, bias, out) {
      if (w.dtype === "packed") return linearPacked(x, m, w, bias, out);
      checkDim("linear", "m", m);
      checkWeight("linear", w);
      checkF32("linear", "x", x);
      if (x.length !== m * w.cols) throw new RangeError(`linear: x has ${x.length} values, expected ${m}x${w.cols}`);
      if (bias !== undefined && bias !== null) checkF32("linear", "bias", bias, w.rows);
      const y = linearOut(m, w.rows, out);
      A.linear(level, x, m, w.data, w.rows, w.cols, bias ?? null, y);
      return y;
    },

    layerNorm(x, rows, cols, weight, bias, eps) {
      checkDim("layerNorm", "rows", rows);
      checkDim("layerNorm", "cols", cols);
      checkF32("layerNorm", "x", x, rows * cols);
      checkF32("layerNorm", "weight", weight, cols);
      checkF32("layerNorm", "bias", bias, cols);
      const y = new Float32Array(rows * cols);
      A.layerNorm(level, x, rows, cols, weight, bias, eps, y);
      return y;
    },

    rmsNorm(x, rows, cols, weight, eps) {
      checkDim("rmsNorm", "rows", rows);
      checkDim("rmsNorm", "cols", cols);
      checkF32("rmsNorm", "x", x, rows * cols);
      checkF32("rmsNorm", "weight", weight, cols);
      const y = new Float32Array(rows * cols);
      A.rmsNorm(level, x, rows, cols, weight, eps, y);
      return y;
    },

    gelu(x) {
      checkF32("gelu", "x", x);
      A.gelu(level, x);
    },
    quickGelu(x) {
      checkF32("quickGelu", "x", x);
      A.quickGelu(level, x);
    },
    silu(x) {
      checkF32("silu", "x", x);
      A.silu(level, x);
    },
    swiglu(gate, up) {
      checkF32("swiglu", "gate", gate);
      checkF32("swiglu", "up", up);
      if (gate.length !== up.length) throw new RangeError("swiglu: gate and up differ in length");
      A.swiglu(level, gate, up);
      return gate;
    },
    add(a, b) {
      checkF32("add", "a", a);
      checkF32("add", "b", b);
      if (a.length !== b.length) throw new RangeError("add: lengths differ");
      A.add(level, a, b);
    },
    roundBf16(x, out, offset = 0) {
      checkF32("roundBf16", "x", x);
      if (!(out instanceof Uint16Array)) throw new TypeError("roundBf16: out must be a Uint16Array");
      checkDim("roundBf16", "offset", offset);
      if (offset + x.length > out.length) {
        throw new RangeError(`roundBf16: ${x.length} values at ${offset} do not fit in ${out.length}`);
      }
      A.roundBf16(level, x, out, offset);
    },

    softmax(x, rows, cols) {
      checkDim("softmax", "rows", rows);
      checkDim("softmax", "cols", cols);
      checkF32("softmax", "x", x, rows * cols);
      A.softmax(level, x, rows, cols);
    },

    rope(x, rows, heads, headDim, positions, theta) {
      checkDim("rope", "rows", rows);
      checkDim("rope", "heads", heads);
      checkDim("rope", "headDim", headDim);
      if (headDim % 2 !== 0) throw new RangeError(`rope: headDim must be even, got ${headDim}`);
      checkF32("rope", "x", x, rows * heads * headDim);
      if (!(positions instanceof Int32Array)) throw new TypeError("rope: positions must be an Int32Array");
      if (positions.length !== rows)
        throw new RangeError(`rope: positions has ${positions.length} values, expected ${rows}`);
      if (!(typeof theta === "number" && theta > 0)) throw new RangeError(`rope: theta must be > 0, got ${theta}`);
      A.rope(level, x, rows, heads, headDim, positions, invFreq(headDim, theta));
    },

    attention(q, k, v, p: AttentionParams) {
      const fn = "attention";
      const batch = p.batch ?? 1;
      const { lq, lk, heads, kvHeads, headDim: d, scale } = p;
      const cap = p.lkCapacity ?? lk;
      checkDim(fn, "batch", batch);
      checkDim(fn, "lq", lq);
      checkDim(fn, "lk", lk);
      checkDim(fn, "heads", heads, 1);
      checkDim(fn, "kvHeads", kvHeads, 1);
      checkDim(fn, "headDim", d, 1);
      checkDim(fn, "lkCapacity", cap);
      if (heads % kvHeads !== 0)
        throw new RangeError(`${fn}: heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
      if (cap < lk) throw new RangeError(`${fn}: lkCapacity (${cap}) must be >= lk (${lk})`);
      if (typeof scale !== "number" || !Number.isFinite(scale)) throw new RangeError(`${fn}: scale must be finite`);
      const causal = p.causalOffset !== undefined;
      if (causal) checkDim(fn, "causalOffset", p.causalOffset as number);
      checkF32(fn, "q", q, batch * lq * heads * d);
      checkKv(fn, "k", k, batch * cap * kvHeads * d);
      checkKv(fn, "v", v, batch * cap * kvHeads * d);
      if (k.constructor !== v.constructor) throw new TypeError(`${fn}: k and v must have the same type`);
      if (p.mask !== undefined && p.mask !== null) checkF32(fn, "mask", p.mask, lq * lk);
      const rel = p.relPos;
      if (rel) {
        checkDim(fn, "relPos.h", rel.h, 1);
        checkDim(fn, "relPos.w", rel.w, 1);
        if (rel.h * rel.w !== lq || lq !== lk) throw new RangeError(`${fn}: relPos needs lq == lk == h*w`);
        checkF32(fn, "relPos.tableH", rel.tableH, (2 * rel.h - 1) * d);
        checkF32(fn, "relPos.tableW", rel.tableW, (2 * rel.w - 1) * d);
      }
      const out = new Float32Array(batch * lq * heads * d);
      A.attention(
        level,
        q,
        k,
        v,
        out,
        batch,
        lq,
        lk,
        heads,
        kvHeads,
        d,
        cap,
        causal,
        p.causalOffset ?? 0,
        scale,
        p.mask ?? null,
        rel ? rel.tableH : null,
        rel ? rel.tableW : null,
        rel ? rel.h : 0,
        rel ? rel.w : 0,
        p.bf16 === true,
      );
      return out;
    },

    conv2d(x, weight, bias, p: Conv2dParams) {
      const fn = "conv2d";
      const { c, h, w, k, stride, pad } = p;
      checkDim(fn, "c", c);
      checkDim(fn, "h", h);
      checkDim(fn, "w", w);
      checkDim(fn, "k", k, 1);
      checkDim(fn, "stride", stride, 1);
      checkDim(fn, "pad", pad);
      if (weight.dtype !== "packed") checkWeight(fn, weight);
      checkF32(fn, "x", x);
      if (x.length !== c * h * w) throw new RangeError(`${fn}: input has ${x.length} values, expected ${c}x${h}x${w}`);
      if (weight.cols !== c * k * k) {
        throw new RangeError(`${fn}: weight has ${weight.cols} columns, expected ${c * k * k}`);
      }
      if (h + 2 * pad < k || w + 2 * pad < k) throw new RangeError(`${fn}: kernel ${k} larger than the padded input`);
      if (bias !== null && bias !== undefined) checkF32(fn, "bias", bias, weight.rows);
      const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
      const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
      const out = new Float32Array(weight.rows * ho * wo);
      if (weight.dtype === "packed") {
        const hnd = nativeHandle(weight);
        if (hnd === null) return referenceKernels.conv2d(x, weight, bias, p);
        A.conv2dPacked(level, x, c, h, w, k, stride, pad, hnd, bias ?? null, out);
        return out;
      }
      A.conv2d(level, x, c, h, w, k, stride, pad, weight.data, weight.rows, bias ?? null, out);
      return out;
    },
  };
  return kernels;
}
