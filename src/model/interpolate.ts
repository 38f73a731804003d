/**
 * f32 resampling of learned position tables, as PyTorch's `F.interpolate` computes them on the CPU
 * for float32 tensors (spec 5.1 step 2, 5.1 step 3 "Table sizes", 10.2, 10.3; implementer note 2):
 *
 * - {@link resizeBicubicAntialias}: `mode='bicubic', antialias=True, align_corners=False`
 *   (`_upsample_bicubic2d_aa`): a separable Pillow-style filter, Keys cubic with a = -0.5, support
 *   2 · max(scale, 1), window clipped at the borders and weights normalised to sum 1; the width
 *   (contiguous axis) is resampled first, then the height. Used for the SAM absolute position
 *   embedding (64x64 grid -> g x g) and, in v1, the CLIP position grid.
 * - {@link resizeLinear1d}: `mode='linear', align_corners=False` along one axis (the SAM rel-pos
 *   tables of the global blocks, 127 rows -> 2g - 1).
 *
 * PyTorch computes the scale, the weights and the weighted sums in the tensor's dtype (float32),
 * with a few intermediate steps promoted to double by C++ (`+ 0.5`); every step here is rounded
 * with `Math.fround` where the C++ rounds to float, in the same order. The f32 scale (in / out
 * rounded) alone moves the result by a few 1e-6 relative to an all-double computation.
 */

const fr = Math.fround;

/** Keys cubic convolution kernel with a = -0.5 (PyTorch `HelperInterpCubic::aa_filter`), in f32. */
function aaCubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) {
    // ((a + 2) x - (a + 3)) x x + 1
    return fr(fr(fr(fr(fr((a + 2) * x) - (a + 3)) * x) * x) + 1);
  }
  if (x < 2) {
    // ((a x - 5a) x + 8a) x - 4a
    return fr(fr(fr(fr(fr(fr(a * x) - 5 * a) * x) + 8 * a) * x) - 4 * a);
  }
  return 0;
}

/** Per-output-index source window and normalised weights of one axis. */
interface AxisWeights {
  /** First source index of each output index. */
  start: Int32Array;
  /** Window length of each output index. */
  size: Int32Array;
  /** Weights, `maxSize` slots per output index. */
  weights: Float32Array;
  maxSize: number;
}

/**
 * Antialiased bicubic weights of one axis, as PyTorch's `_compute_weights_aa` with float32
 * arithmetic (align_corners False, no explicit scale factor): scale = in / out,
 * support = 2 · scale when scale >= 1 else 2, center = scale · (i + 0.5),
 * window [trunc(center - support + 0.5), trunc(center + support + 0.5)) clipped to [0, in),
 * w_j = filter((j + xmin - center + 0.5) / max(scale, 1)), normalised by their sum.
 */
function aaAxisWeights(inSize: number, outSize: number): AxisWeights {
  const scale = fr(inSize / outSize);
  const support = scale >= 1 ? fr(2 * scale) : 2;
  const invscale = scale >= 1 ? fr(1 / scale) : 1;
  const maxSize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const size = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxSize);
  for (let i = 0; i < outSize; i++) {
    const center = fr(scale * fr(i + 0.5));
    // float - float, then + 0.5 in double (C++ promotion), then truncation.
    const xmin = Math.max(Math.trunc(fr(center - support) + 0.5), 0);
    const xsize = Math.min(Math.trunc(fr(center + support) + 0.5), inSize) - xmin;
    start[i] = xmin;
    size[i] = xsize;
    let total = 0;
    const o = i * maxSize;
    for (let j = 0; j < xsize; j++) {
      // (int - float) in float, (+ 0.5) * invscale in double, rounded to float as the filter's argument.
      const w = aaCubic(fr((fr(j + xmin - center) + 0.5) * invscale));
      weights[o + j] = w;
      total = fr(total + w);
    }
    if (total !== 0) for (let j = 0; j < xsize; j++) weights[o + j] = fr(weights[o + j] / total);
  }
  return { start, size, weights, maxSize };
}

/**
 * Resamples a channels-last grid `[inH, inW, channels]` to `[outH, outW, channels]` with PyTorch's
 * float32 antialiased bicubic interpolation (`F.interpolate(mode='bicubic', antialias=True,
 * align_corners=False)` applied to the NCHW view of the same data). Spec 5.1 step 2, implementer note 2.
 *
 * Downscaling widens the kernel (antialias); upscaling keeps support 2 with a = -0.5. An axis whose
 * size does not change is copied, as PyTorch skips it.
 *
 * @param src `[inH, inW, channels]` row-major
 * @returns a new `[outH, outW, channels]` array (a copy when the size is unchanged)
 * @throws RangeError when `src.length !== inH * inW * channels` or a size is not a positive integer
 */
export function resizeBicubicAntialias(
  src: Float32Array,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
): Float32Array {
  for (const v of [inH, inW, channels, outH, outW]) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`resizeBicubicAntialias: bad size ${v}`);
  }
  if (src.length !== inH * inW * channels) {
    throw new RangeError(`resizeBicubicAntialias: src has ${src.length} values, expected ${inH}x${inW}x${channels}`);
  }
  let cur = src;
  let curW = inW;
  // Horizontal pass (contiguous axis of NCHW) first.
  if (outW !== inW) {
    const ax = aaAxisWeights(inW, outW);
    const out = new Float32Array(inH * outW * channels);
    for (let y = 0; y < inH; y++) {
      for (let x = 0; x < outW; x++) {
        const s0 = ax.start[x];
        const n = ax.size[x];
        const wo = x * ax.maxSize;
        const dst = (y * outW + x) * channels;
        for (let c = 0; c < channels; c++) {
          let acc = fr(cur[(y * curW + s0) * channels + c] * ax.weights[wo]);
          for (let j = 1; j < n; j++) acc = fr(acc + fr(cur[(y * curW + s0 + j) * channels + c] * ax.weights[wo + j]));
          out[dst + c] = acc;
        }
      }
    }
    cur = out;
    curW = outW;
  }
  // Vertical pass.
  if (outH !== inH) {
    const ax = aaAxisWeights(inH, outH);
    const row = curW * channels;
    const out = new Float32Array(outH * row);
    for (let y = 0; y < outH; y++) {
      const s0 = ax.start[y];
      const n = ax.size[y];
      const wo = y * ax.maxSize;
      for (let i = 0; i < row; i++) {
        let acc = fr(cur[s0 * row + i] * ax.weights[wo]);
        for (let j = 1; j < n; j++) acc = fr(acc + fr(cur[(s0 + j) * row + i] * ax.weights[wo + j]));
        out[y * row + i] = acc;
      }
    }
    cur = out;
  }
  return cur === src ? src.slice() : cur;
}

/**
 * Resamples `[inLen, channels]` along its first axis to `[outLen, channels]` with PyTorch's float32
 * linear interpolation, `align_corners=False` (spec 10.3): source = max(scale · (i + 0.5) - 0.5, 0)
 * with scale = inLen / outLen, i0 = min(floor(source), inLen - 1), λ = clamp(source - i0, 0, 1),
 * i1 = i0 + 1 unless i0 is the last row, y = (1 - λ) · x[i0] + λ · x[i1].
 *
 * Used for the SAM rel-pos tables of the global-attention blocks (`[2·64-1, headDim]` -> `[2g-1, headDim]`,
 * spec 5.1 step 3).
 *
 * @param src `[inLen, channels]` row-major
 * @returns a new `[outLen, channels]` array (a copy when `outLen === inLen`)
 * @throws RangeError when `src.length !== inLen * channels` or a size is not a positive integer
 */
export function resizeLinear1d(src: Float32Array, inLen: number, channels: number, outLen: number): Float32Array {
  for (const v of [inLen, channels, outLen]) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`resizeLinear1d: bad size ${v}`);
  }
  if (src.length !== inLen * channels) {
    throw new RangeError(`resizeLinear1d: src has ${src.length} values, expected ${inLen}x${channels}`);
  }
  if (outLen === inLen) return src.slice();
  const scale = fr(inLen / outLen);
  const out = new Float32Array(outLen * channels);
  for (let i = 0; i < outLen; i++) {
    // scale * (i + 0.5) - 0.5 evaluated in double (C++ promotion), stored as float.
    const real = Math.max(fr(scale * (i + 0.5) - 0.5), 0);
    const i0 = Math.min(Math.floor(real), inLen - 1);
    const l1 = Math.min(Math.max(fr(real - i0), 0), 1);
    const l0 = fr(1 - l1);
    const i1 = i0 < inLen - 1 ? i0 + 1 : i0;
    for (let c = 0; c < channels; c++) {
      out[i * channels + c] = fr(fr(l0 * src[i0 * channels + c]) + fr(l1 * src[i1 * channels + c]));
    }
  }
  return out;
}
