/**
 * Plain TypeScript kernels: the ground truth the native kernels are tested against, and a
 * fallback when the addon is unavailable. Straightforward loops, f32 storage, f64 accumulation
 * where it is free. See `types.ts` for the contract of every function.
 */
import { bf16BitsToF32, f32ArrayToBf16Bits, f32ToBf16Bits } from "../util/bf16.ts";
import {
  type AttentionParams,
  type Conv2dParams,
  INT8_GROUP,
  type Kernels,
  type KvArray,
  type PackedWeight,
  type PackFormat,
  type PackOptions,
  type Weight,
} from "./types.ts";

/** Widens one bf16 bit pattern to a number (see src/util/bf16.ts). */
export const bf16ToF32 = bf16BitsToF32;

/** Rounds a number to the nearest bf16 (round-to-nearest-even) and returns its bit pattern. */
export const f32ToBf16 = f32ToBf16Bits;

/** Handle of a reference `bf16` pack: the weight rounded to bf16 (RNE), `[rows, cols]`. */
export interface RefPackedBf16 {
  data: Uint16Array;
}

/**
 * Handle of a reference `int8` pack: symmetric quantisation per group of `group` consecutive
 * columns of a row (the last group shorter when `group` does not divide cols), `ng = ceil(cols / group)`
 * groups per row: `scales[r * ng + g] = f32(max |W[r, c]| over the group / 127)`,
 * `q = Math.round(f32(W / scale))` in [-127, 127] (0 for a zero scale); W[r, c] ≈ q · scales[r * ng + floor(c / group)].
 */
export interface RefPackedInt8 {
  q: Int8Array;
  scales: Float32Array;
  group: number;
}

/** Value (r, c) of a plain weight. */
function plainAt(w: Weight, i: number): number {
  if (w.dtype === "f32") return w.data[i];
  if (w.dtype === "bf16") return bf16ToF32(w.data[i]);
  throw new RangeError("expected a plain (bf16 or f32) weight");
}

/** The reference packing (see {@link RefPackedBf16}, {@link RefPackedInt8}). */
export function packWeightReference(w: Weight, format: PackFormat, opts?: PackOptions): PackedWeight {
  if (w.dtype === "packed") throw new RangeError("packWeight: the weight is already packed");
  const { rows, cols } = w;
  if (format === "bf16") {
    const data = new Uint16Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = w.dtype === "bf16" ? w.data[i] : f32ToBf16(w.data[i]);
    return { dtype: "packed", format, rows, cols, bytes: data.byteLength, handle: { data } satisfies RefPackedBf16 };
  }
  if (format === "int8") {
    const group = opts?.group ?? INT8_GROUP;
    if (!Number.isInteger(group) || group < 1) throw new RangeError(`packWeight: bad int8 group ${group}`);
    const ng = Math.ceil(cols / group);
    const q = new Int8Array(rows * cols);
    const scales = new Float32Array(rows * ng);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < ng; g++) {
        const c0 = g * group;
        const c1 = Math.min(cols, c0 + group);
        let mx = 0;
        for (let c = c0; c < c1; c++) mx = Math.max(mx, Math.abs(plainAt(w, r * cols + c)));
        const scale = Math.fround(mx / 127);
        scales[r * ng + g] = scale;
        if (scale === 0) continue;
        for (let c = c0; c < c1; c++) {
          const v = Math.round(Math.fround(plainAt(w, r * cols + c) / scale));
          q[r * cols + c] = Math.min(127, Math.max(-127, v));
        }
      }
    }
    const handle: RefPackedInt8 = { q, scales, group };
    return { dtype: "packed", format, rows, cols, bytes: q.byteLength + scales.byteLength, handle };
  }
  throw new RangeError(`packWeight: unknown format ${format}`);
}

/**
 * The input rows of an `int8` matmul, quantised to int16 per row and group of `group` consecutive
 * values (the weight's groups): `s = f32(max |x| / 32767)`, `q = Math.round(f32(x / s))` in
 * [-32767, 32767] (0 where s = 0; NaN for a group holding a NaN or an infinity); returns the values
 * `f32(q · s)`, `[m, k]`. The native kernels
 * multiply the integers and apply `s` per group (native/pack_int8.h QuantX): the same products.
 */
export function quantizeRows(x: Float32Array, m: number, k: number, group: number): Float32Array {
  const out = new Float32Array(m * k);
  for (let r = 0; r < m; r++) {
    for (let c0 = 0; c0 < k; c0 += group) {
      const o = r * k;
      const c1 = Math.min(k, c0 + group);
      let mx = 0;
      for (let c = c0; c < c1; c++) mx = Math.max(mx, Math.abs(x[o + c]));
      const scale = Math.fround(mx / 32767);
      if (scale === 0) continue;
      if (!Number.isFinite(scale)) {
        // a NaN or an infinity in the group: NaN values, so the results are NaN
        out.fill(Number.NaN, o + c0, o + c1);
        continue;
      }
      for (let c = c0; c < c1; c++) {
        const q = Math.min(32767, Math.max(-32767, Math.round(Math.fround(x[o + c] / scale))));
        out[o + c] = Math.fround(q * scale);
      }
    }
  }
  return out;
}

/** Row r of a weight as a Float32Array (widened for bf16, dequantised for int8). */
export function weightRow(w: Weight, r: number, out = new Float32Array(w.cols)): Float32Array {
  const base = r * w.cols;
  if (w.dtype === "f32") {
    out.set(w.data.subarray(base, base + w.cols));
  } else if (w.dtype === "bf16") {
    for (let c = 0; c < w.cols; c++) out[c] = bf16ToF32(w.data[base + c]);
  } else if (w.format === "bf16") {
    const { data } = w.handle as RefPackedBf16;
    for (let c = 0; c < w.cols; c++) out[c] = bf16ToF32(data[base + c]);
  } else {
    const { q, scales, group } = w.handle as RefPackedInt8;
    const s0 = r * Math.ceil(w.cols / group);
    for (let c = 0; c < w.cols; c++) out[c] = q[base + c] * scales[s0 + Math.floor(c / group)];
  }
  return out;
}

/** erf to full double precision (W. J. Cody's rational approximations). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 0.5) {
    const t = x * x;
    const p =
      (((0.185777706184603152673 * t + 3.161123743870565596947) * t + 113.8641541510501556495) * t +
        377.485237685302021691) *
        t +
      3209.377589138469472562;
    const q =
      (((t + 23.60129095234412093499) * t + 244.0246379344441733056) * t + 1282.616526077372275645) * t +
      2844.236833439170622273;
    return (x * p) / q;
  }
  return x < 0 ? -(1 - erfcPositive(ax)) : 1 - erfcPositive(ax);
}

function erfcPositive(x: number): number {
  if (x < 4) {
    const p =
      ((((((0.5641884969886700891 * x + 8.883149794388375941) * x + 66.11919063714162948) * x + 298.6351381974001311) *
        x +
        881.952221241769090411) *
        x +
        1712.04761263407058314) *
        x +
        2051.07837782607146532) *
        x +
      1230.33935479799725272;
    const q =
      (((((((x + 15.74492611070983473) * x + 117.6939508913124993) * x + 537.1811018620098575) * x +
        1621.389574566690189) *
        x +
        3290.799235733459627) *
        x +
        4362.619090143247158) *
        x +
        3439.367674143721637) *
        x +
      1230.33935480374942;
    return Math.exp(-x * x) * (p / q);
  }
  if (x > 27) return 0;
  const z = 1 / (x * x);
  const p =
    ((((0.01628582281141802 * z + 0.305326634961232344) * z + 0.3603448999498044394) * z + 0.1257817261112292462) * z +
      0.01608378514874227663) *
      z +
    0.0006587491615298378;
  const q =
    ((((z + 2.568520192289822421) * z + 1.872952849923460243) * z + 0.5279051029514284122) * z +
      0.06051834131244131912) *
      z +
    0.002335204976268691854;
  return (Math.exp(-x * x) / x) * (1 / Math.sqrt(Math.PI) - (z * p) / q);
}

/** RoPE inverse frequencies as torch computes them in f32: 1 / theta^(2j/d). */
export function ropeInvFreq(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let j = 0; j < half; j++) inv[j] = 1 / Math.fround(theta ** Math.fround((2 * j) / headDim));
  return inv;
}

function linear(x: Float32Array, m: number, w: Weight, bias?: Float32Array | null, out?: Float32Array): Float32Array {
  const k = w.cols;
  const n = w.rows;
  if (x.length !== m * k) throw new RangeError(`linear: x has ${x.length} values, expected ${m}x${k}`);
  if (bias && bias.length !== n) throw new RangeError(`linear: bias has ${bias.length} values, expected ${n}`);
  if (out && out.length !== m * n) throw new RangeError(`linear: out has ${out.length} values, expected ${m}x${n}`);
  const y = out ?? new Float32Array(m * n);
  const row = new Float32Array(k);
  if (w.dtype === "packed" && w.format === "int8") {
    // int8: the input rows quantised to int16 per group (quantizeRows), products of the values.
    x = quantizeRows(x, m, k, (w.handle as RefPackedInt8).group);
  } else if (w.dtype === "packed") {
    // bf16: the input rows are rounded to bf16 before the products.
    const xr = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) xr[i] = bf16ToF32(f32ToBf16(x[i]));
    x = xr;
  }
  for (let j = 0; j < n; j++) {
    weightRow(w, j, row);
    const b = bias ? bias[j] : 0;
    for (let i = 0; i < m; i++) {
      let s = 0;
      const xo = i * k;
      for (let c = 0; c < k; c++) s += x[xo + c] * row[c];
      y[i * n + j] = s + b;
    }
  }
  return y;
}

function layerNorm(x: Float32Array, rows: number, cols: number, weight: Float32Array, bias: Float32Array, eps: number) {
  const y = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[o + c];
    mean /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[o + c] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / cols + eps);
    for (let c = 0; c < cols; c++) y[o + c] = (x[o + c] - mean) * inv * weight[c] + bias[c];
  }
  return y;
}

function rmsNorm(x: Float32Array, rows: number, cols: number, weight: Float32Array, eps: number) {
  const y = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[o + c] * x[o + c];
    const inv = 1 / Math.sqrt(ss / cols + eps);
    for (let c = 0; c < cols; c++) y[o + c] = Math.fround(x[o + c] * inv) * weight[c];
  }
  return y;
}

function softmax(x: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < cols; c++) if (x[o + c] > mx) mx = x[o + c];
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const e = Math.exp(x[o + c] - mx);
      x[o + c] = e;
      s += e;
    }
    for (let c = 0; c < cols; c++) x[o + c] /= s;
  }
}

function rope(x: Float32Array, rows: number, heads: number, headDim: number, positions: Int32Array, theta: number) {
  const inv = ropeInvFreq(headDim, theta);
  const half = headDim / 2;
  const width = heads * headDim;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < half; j++) {
      const a = Math.fround(positions[r] * inv[j]);
      const cos = Math.fround(Math.cos(a));
      const sin = Math.fround(Math.sin(a));
      for (let h = 0; h < heads; h++) {
        const o = r * width + h * headDim;
        const x1 = x[o + j];
        const x2 = x[o + j + half];
        x[o + j] = x1 * cos - x2 * sin;
        x[o + j + half] = x2 * cos + x1 * sin;
      }
    }
  }
}

/** A bf16 K/V array widened exactly to f32 (an f32 one as is). */
function kvF32(fn: string, name: string, a: KvArray): Float32Array {
  if (a instanceof Float32Array) return a;
  if (!(a instanceof Uint16Array)) throw new TypeError(`${fn}: ${name} must be a Float32Array or a Uint16Array`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = bf16ToF32(a[i]);
  return out;
}

function attention(q: Float32Array, kIn: KvArray, vIn: KvArray, p: AttentionParams): Float32Array {
  if (kIn.constructor !== vIn.constructor) throw new TypeError("attention: k and v must have the same type");
  // bf16 K/V: the f32 computation on the exactly widened values (types.ts).
  let k = kvF32("attention", "k", kIn);
  let v = kvF32("attention", "v", vIn);
  // bf16 products: q, k and v rounded to bf16 for q·kᵀ and p·v (rel-pos keeps the f32 q), and each
  // probability rounded before it multiplies v (its f32 value goes into the sum).
  const r16 = (x: number) => bf16ToF32(f32ToBf16(x));
  const rounded = (x: Float32Array) => Float32Array.from(x, r16);
  const qk = p.bf16 ? rounded(q) : q;
  if (p.bf16) {
    k = rounded(k);
    v = rounded(v);
  }
  const batch = p.batch ?? 1;
  const { lq, lk, heads, kvHeads, headDim: d, scale } = p;
  const cap = p.lkCapacity ?? lk;
  const qw = heads * d;
  const kw = kvHeads * d;
  const group = heads / kvHeads;
  const out = new Float32Array(batch * lq * qw);
  const scores = new Float64Array(lk);
  const rel = p.relPos;
  if (rel && (rel.h * rel.w !== lq || lq !== lk)) throw new RangeError("attention: relPos needs lq == lk == h*w");
  const relH = rel ? new Float64Array(rel.h) : null;
  const relW = rel ? new Float64Array(rel.w) : null;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < lq; i++) {
        const qo = (b * lq + i) * qw + h * d;
        if (rel && relH && relW) {
          const y1 = Math.floor(i / rel.w);
          const x1 = i % rel.w;
          for (let y2 = 0; y2 < rel.h; y2++) {
            const to = (y1 - y2 + rel.h - 1) * d;
            let s = 0;
            for (let c = 0; c < d; c++) s += q[qo + c] * rel.tableH[to + c];
            relH[y2] = s;
          }
          for (let x2 = 0; x2 < rel.w; x2++) {
            const to = (x1 - x2 + rel.w - 1) * d;
            let s = 0;
            for (let c = 0; c < d; c++) s += q[qo + c] * rel.tableW[to + c];
            relW[x2] = s;
          }
        }
        const last = p.causalOffset === undefined ? lk - 1 : Math.min(lk - 1, p.causalOffset + i);
        let mx = Number.NEGATIVE_INFINITY;
        for (let j = 0; j <= last; j++) {
          const ko = (b * cap + j) * kw + kh * d;
          let s = 0;
          for (let c = 0; c < d; c++) s += qk[qo + c] * k[ko + c];
          s *= scale;
          if (p.mask) s += p.mask[i * lk + j];
          if (rel && relH && relW) s += relH[Math.floor(j / rel.w)] + relW[j % rel.w];
          scores[j] = s;
          if (s > mx) mx = s;
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) {
          scores[j] = Math.exp(scores[j] - mx);
          sum += scores[j];
        }
        if (p.bf16) for (let j = 0; j <= last; j++) scores[j] = r16(Math.fround(scores[j]));
        for (let c = 0; c < d; c++) {
          let acc = 0;
          for (let j = 0; j <= last; j++) acc += scores[j] * v[(b * cap + j) * kw + kh * d + c];
          out[qo + c] = acc / sum;
        }
      }
    }
  }
  return out;
}

function conv2d(x: Float32Array, weight: Weight, bias: Float32Array | null, p: Conv2dParams): Float32Array {
  const { c, h, w, k, stride, pad } = p;
  if (x.length !== c * h * w) throw new RangeError(`conv2d: input has ${x.length} values, expected ${c}x${h}x${w}`);
  if (weight.cols !== c * k * k)
    throw new RangeError(`conv2d: weight has ${weight.cols} columns, expected ${c * k * k}`);
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
  const outC = weight.rows;
  const out = new Float32Array(outC * ho * wo);
  const row = new Float32Array(weight.cols);
  if (weight.dtype === "packed" && weight.format === "bf16") {
    // bf16 precision: the input is rounded to bf16 before the products (as in linear).
    const xr = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) xr[i] = bf16ToF32(f32ToBf16(x[i]));
    x = xr;
  }
  for (let o = 0; o < outC; o++) {
    weightRow(weight, o, row);
    const b = bias ? bias[o] : 0;
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        let s = 0;
        for (let ci = 0; ci < c; ci++) {
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * stride - pad + kx;
              if (ix < 0 || ix >= w) continue;
              s += x[(ci * h + iy) * w + ix] * row[(ci * k + ky) * k + kx];
            }
          }
        }
        out[(o * ho + oy) * wo + ox] = s + b;
      }
    }
  }
  return out;
}

/** The plain TypeScript kernel set (single-threaded). */
export const referenceKernels: Kernels = {
  name: "reference",
  packWeight: packWeightReference,
  setThreads() {},
  getThreads: () => 1,
  linear,
  layerNorm,
  rmsNorm,
  gelu(x) {
    for (let i = 0; i < x.length; i++) x[i] = 0.5 * x[i] * (1 + erf(x[i] / Math.SQRT2));
  },
  quickGelu(x) {
    for (let i = 0; i < x.length; i++) x[i] = x[i] / (1 + Math.exp(-1.702 * x[i]));
  },
  silu(x) {
    for (let i = 0; i < x.length; i++) x[i] = x[i] / (1 + Math.exp(-x[i]));
  },
  swiglu(gate, up) {
    if (gate.length !== up.length) throw new RangeError("swiglu: gate and up differ in length");
    for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
    return gate;
  },
  add(a, b) {
    if (a.length !== b.length) throw new RangeError("add: lengths differ");
    for (let i = 0; i < a.length; i++) a[i] += b[i];
  },
  roundBf16(x, out, offset = 0) {
    f32ArrayToBf16Bits(x, out, offset);
  },
  softmax,
  rope,
  attention,
  conv2d,
};
