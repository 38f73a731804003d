/**
 * SAM ViT-B image encoder (`model.sam_model`), shared by DeepSeek-OCR 2 and DeepSeek-OCR (v1).
 * Spec ../shared/spec/deepseek-ocr.md section 5.1 (v1: 7.2), pitfalls 6-8.
 *
 * One view `[3, S, S]` (normalised pixels) ->
 *   patch_embed (conv 16x16 s16, bias) -> NHWC `[g, g, C]` (g = S / 16)
 *   + pos_embed (64x64 grid, f32 antialiased bicubic resize when g != 64)
 *   -> blocks (pre-LN; windowed 14x14 attention with zero padding after norm1, or global attention;
 *      decomposed rel-pos with the unscaled q; MLP lin1 -> exact GELU -> lin2)
 *   -> neck (conv1x1, LayerNorm2d, conv3x3 p1, LayerNorm2d; no biases)
 *   -> net_2 (conv3x3 s2 p1) -> net_3 (conv3x3 s2 p1), no biases, no activations
 *   -> `[C3, g/4, g/4]` NCHW (C3 = net_3 width from the config: 896 in v2, 1024 in v1).
 *
 * Nothing here is specific to v2: every width comes from {@link SamConfig}.
 * Activations are f32 throughout; weights stay in their checkpoint dtype (bf16).
 */

import type { SamConfig } from "../config/types.ts";
import type { Kernels, Weight } from "../kernels/types.ts";
import { roundToBf16InPlace } from "../util/bf16.ts";
import { bf16Attention, type LoadContext, prepareWeight, readPackedWeight } from "./blocks/context.ts";
import { Linear } from "./blocks/linear.ts";
import { LayerNorm } from "./blocks/norm.ts";
import { Scratch } from "./blocks/scratch.ts";
import type { Dumper } from "./dump.ts";
import { resizeBicubicAntialias, resizeLinear1d } from "./interpolate.ts";

/** Checkpoint prefix of the SAM encoder in both models. */
export const SAM_PREFIX = "model.sam_model";

/** Output size of a convolution along one axis: floor((n + 2 pad - k) / stride) + 1. */
export function convOutSize(n: number, k: number, stride: number, pad: number): number {
  return Math.floor((n + 2 * pad - k) / stride) + 1;
}

/**
 * Geometry of SAM for a square view of `imageSize` pixels.
 * @returns `grid` = patch grid side (64 for 1024 px), `neckGrid` (= grid), `net2Grid`, `outGrid`
 *   (16 for 1024 px, 12 for 768 px) and `tokens` = outGrid² (the number of rows the view yields).
 * @throws RangeError when the view is smaller than one patch
 */
export function samGeometry(
  cfg: SamConfig,
  imageSize: number,
): { grid: number; net2Grid: number; outGrid: number; tokens: number } {
  const grid = convOutSize(imageSize, cfg.patchSize, cfg.patchSize, 0);
  if (!(grid >= 1)) throw new RangeError(`SAM: view of ${imageSize} px is smaller than one ${cfg.patchSize}-px patch`);
  const net2Grid = convOutSize(grid, 3, 2, 1);
  const outGrid = convOutSize(net2Grid, 3, 2, 1);
  return { grid, net2Grid, outGrid, tokens: outGrid * outGrid };
}

/** Transposes a row-major `[rows, cols]` matrix into a new `[cols, rows]` one (NCHW <-> NHWC with rows = C or H·W). */
export function transpose2d(x: Float32Array, rows: number, cols: number): Float32Array {
  const y = new Float32Array(rows * cols);
  // 32 x 32 blocks: reads and writes both stay within a few cache lines per row (a plain loop
  // writes one value per line of y and was a visible share of SAM's TS-side time).
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const o = r * cols;
        for (let c = c0; c < c1; c++) y[c * rows + r] = x[o + c];
      }
    }
  }
  return y;
}

/** Rounds every value to the nearest bf16 (RNE) and widens it back to f32, into a new array. */
export function roundToBf16(x: Float32Array): Float32Array {
  return roundToBf16InPlace(x.slice());
}

/**
 * `nn.Conv2d` on one NCHW image (N = 1), square kernel, zero padding. The weight `[out, in, k, k]`
 * is kept flattened as `[out, in·k·k]` in its checkpoint dtype (f32 precision) or packed by
 * {@link prepareWeight} for the context's precision (bf16: the input is rounded to bf16).
 */
export class Conv2d {
  constructor(
    private readonly k: Kernels,
    readonly weight: Weight,
    readonly bias: Float32Array | null,
    readonly inChannels: number,
    readonly kernel: number,
    readonly stride: number,
    readonly pad: number,
  ) {}

  /**
   * Reads `<prefix>.weight` `[outCh, inCh, kernel, kernel]` and, when `bias`, `<prefix>.bias` `[outCh]`.
   * @throws CheckpointError when a tensor is missing or has another shape
   */
  static load(
    ctx: LoadContext,
    prefix: string,
    inCh: number,
    outCh: number,
    kernel: number,
    stride: number,
    pad: number,
    bias: boolean,
  ): Conv2d {
    const w = readPackedWeight(ctx, `${prefix}.weight`, [outCh, inCh, kernel, kernel]);
    const b = bias ? ctx.ckpt.readF32(`${prefix}.bias`, [outCh]) : null;
    return new Conv2d(ctx.k, w, b, inCh, kernel, stride, pad);
  }

  get outChannels(): number {
    return this.weight.rows;
  }

  /**
   * x `[inChannels, h, w]` -> `[outChannels, ho, wo]`, ho = floor((h + 2 pad - k) / stride) + 1.
   * @throws RangeError when x has the wrong length
   */
  forward(x: Float32Array, h: number, w: number): { data: Float32Array; h: number; w: number } {
    const data = this.k.conv2d(x, this.weight, this.bias, {
      c: this.inChannels,
      h,
      w,
      k: this.kernel,
      stride: this.stride,
      pad: this.pad,
    });
    return {
      data,
      h: convOutSize(h, this.kernel, this.stride, this.pad),
      w: convOutSize(w, this.kernel, this.stride, this.pad),
    };
  }
}

/**
 * SAM attention (`blocks.i.attn`): fused `qkv` Linear (bias; output columns [q|k|v] x heads x headDim),
 * softmax(q kᵀ / sqrt(headDim) + decomposed rel-pos bias of the unscaled q) v, `proj` Linear (bias).
 * Spec 5.1 step 3.
 */
export class SamAttention {
  readonly headDim: number;
  /** Rel-pos tables resized to 2·side - 1 rows, cached per side. */
  private readonly tables = new Map<number, { h: Float32Array; w: Float32Array }>();

  constructor(
    private readonly k: Kernels,
    readonly dim: number,
    readonly heads: number,
    readonly qkv: Linear,
    readonly proj: Linear,
    /** `rel_pos_h` `[relRows, headDim]`. */
    readonly relPosH: Float32Array,
    /** `rel_pos_w` `[relRows, headDim]`. */
    readonly relPosW: Float32Array,
    readonly relRows: number,
    /** Work buffers (qkv output, q/k/v split), shared by the blocks of one encoder. */
    private readonly scratch: Scratch = new Scratch(),
    /** Attention on bf16 products (AttentionParams.bf16; {@link bf16Attention}). */
    readonly bf16Products = false,
  ) {
    this.headDim = dim / heads;
  }

  /**
   * Reads `<prefix>.{qkv,proj}` and `<prefix>.rel_pos_{h,w}` `[relRows, dim / heads]`.
   * @throws CheckpointError
   */
  static load(
    ctx: LoadContext,
    prefix: string,
    dim: number,
    heads: number,
    relRows: number,
    scratch?: Scratch,
  ): SamAttention {
    const hd = dim / heads;
    return new SamAttention(
      ctx.k,
      dim,
      heads,
      Linear.load(ctx, `${prefix}.qkv`, dim, 3 * dim, true),
      Linear.load(ctx, `${prefix}.proj`, dim, dim, true),
      ctx.ckpt.readF32(`${prefix}.rel_pos_h`, [relRows, hd]),
      ctx.ckpt.readF32(`${prefix}.rel_pos_w`, [relRows, hd]),
      relRows,
      scratch,
      bf16Attention(ctx),
    );
  }

  /** Tables `[2·side - 1, headDim]`, linearly resized (f32, align_corners False) when the stored length differs. */
  private relTables(side: number): { h: Float32Array; w: Float32Array } {
    let t = this.tables.get(side);
    if (!t) {
      const len = 2 * side - 1;
      t = {
        h: resizeLinear1d(this.relPosH, this.relRows, this.headDim, len),
        w: resizeLinear1d(this.relPosW, this.relRows, this.headDim, len),
      };
      this.tables.set(side, t);
    }
    return t;
  }

  /**
   * x `[batch, side·side, dim]` (`batch` independent square windows or one global grid, tokens
   * row-major) -> new `[batch, side·side, dim]`, or written into `out` (that length) when given.
   */
  forward(x: Float32Array, batch: number, side: number, out?: Float32Array): Float32Array {
    const l = side * side;
    const rows = batch * l;
    const dim = this.dim;
    const sc = this.scratch;
    const qkv = this.qkv.forward(x, rows, sc.get("sam.qkv", rows * 3 * dim));
    const q = sc.get("sam.q", rows * dim);
    const kk = sc.get("sam.k", rows * dim);
    const v = sc.get("sam.v", rows * dim);
    for (let r = 0; r < rows; r++) {
      const o = r * 3 * dim;
      q.set(qkv.subarray(o, o + dim), r * dim);
      kk.set(qkv.subarray(o + dim, o + 2 * dim), r * dim);
      v.set(qkv.subarray(o + 2 * dim, o + 3 * dim), r * dim);
    }
    const t = this.relTables(side);
    const o = this.k.attention(q, kk, v, {
      batch,
      lq: l,
      lk: l,
      heads: this.heads,
      kvHeads: this.heads,
      headDim: this.headDim,
      scale: 1 / Math.sqrt(this.headDim),
      relPos: { h: side, w: side, tableH: t.h, tableW: t.w },
      bf16: this.bf16Products,
    });
    return this.proj.forward(o, rows, out);
  }
}

/** SAM block MLP: lin2(GELU(lin1(x))), exact erf GELU, both Linears with bias. */
export class SamMlp {
  constructor(
    private readonly k: Kernels,
    readonly lin1: Linear,
    readonly lin2: Linear,
    /** Work buffer of the hidden layer, shared by the blocks of one encoder. */
    private readonly scratch: Scratch = new Scratch(),
  ) {}

  /** Reads `<prefix>.lin1` `[hidden, dim]` and `<prefix>.lin2` `[dim, hidden]`. @throws CheckpointError */
  static load(ctx: LoadContext, prefix: string, dim: number, hidden: number, scratch?: Scratch): SamMlp {
    return new SamMlp(
      ctx.k,
      Linear.load(ctx, `${prefix}.lin1`, dim, hidden, true),
      Linear.load(ctx, `${prefix}.lin2`, hidden, dim, true),
      scratch,
    );
  }

  /** x `[m, dim]` -> new `[m, dim]`. */
  forward(x: Float32Array, m: number): Float32Array {
    const h = this.lin1.forward(x, m, this.scratch.get("sam.mlp", m * this.lin1.outDim));
    this.k.gelu(h);
    return this.lin2.forward(h, m);
  }
}

/**
 * One SAM ViT block: x = x + attn(norm1(x)); x = x + mlp(norm2(x)).
 * Windowed blocks (`windowSize > 0`) zero-pad the normed grid at the bottom/right to a multiple of
 * the window, attend inside each window (windows row-major, padded tokens unmasked), and crop back.
 */
export class SamBlock {
  constructor(
    private readonly k: Kernels,
    readonly norm1: LayerNorm,
    readonly attn: SamAttention,
    readonly norm2: LayerNorm,
    readonly mlp: SamMlp,
    /** 0 for a global-attention block. */
    readonly windowSize: number,
    /** Work buffers shared by the blocks of one encoder. */
    private readonly scratch: Scratch = new Scratch(),
  ) {}

  /**
   * Reads `<prefix>.{norm1,attn,norm2,mlp}`. Rel-pos tables have 2·window - 1 rows in windowed blocks
   * and 2·(imgSize / patchSize) - 1 rows in global blocks.
   * @throws CheckpointError
   */
  static load(ctx: LoadContext, prefix: string, cfg: SamConfig, global: boolean, scratch = new Scratch()): SamBlock {
    const dim = cfg.embedDim;
    const relRows = global ? 2 * Math.floor(cfg.imgSize / cfg.patchSize) - 1 : 2 * cfg.windowSize - 1;
    return new SamBlock(
      ctx.k,
      LayerNorm.load(ctx, `${prefix}.norm1`, dim, cfg.layerNormEps),
      SamAttention.load(ctx, `${prefix}.attn`, dim, cfg.numHeads, relRows, scratch),
      LayerNorm.load(ctx, `${prefix}.norm2`, dim, cfg.layerNormEps),
      SamMlp.load(ctx, `${prefix}.mlp`, dim, Math.round(dim * cfg.mlpRatio), scratch),
      global ? 0 : cfg.windowSize,
      scratch,
    );
  }

  /**
   * x `[g, g, dim]` (NHWC rows) -> new `[g, g, dim]`.
   * @throws RangeError when `x.length !== g * g * dim`
   */
  forward(x: Float32Array, g: number): Float32Array {
    const dim = this.attn.dim;
    const m = g * g;
    if (x.length !== m * dim)
      throw new RangeError(`SAM block: input has ${x.length} values, expected ${g}x${g}x${dim}`);
    const xn = this.norm1.forward(x, m);
    let a: Float32Array;
    const ws = this.windowSize;
    // a (the residual stream between attention and MLP) and the windowed attention output are
    // dead once the block returns: reused buffers (fresh 12-15 MB arrays cost page faults).
    const sc = this.scratch;
    if (ws === 0) {
      a = this.attn.forward(xn, 1, g, sc.get("sam.a", m * dim));
    } else {
      const nw = Math.ceil(g / ws);
      const rows = nw * nw * ws * ws;
      const wins = windowPartition(xn, g, dim, ws, nw, sc.get("sam.win", rows * dim));
      const wa = this.attn.forward(wins, nw * nw, ws, sc.get("sam.proj", rows * dim));
      a = windowUnpartition(wa, g, dim, ws, nw, sc.get("sam.a", m * dim));
    }
    this.k.add(a, x);
    const f = this.mlp.forward(this.norm2.forward(a, m), m);
    this.k.add(f, a);
    return f;
  }
}

/**
 * `[g, g, dim]` -> `[nw·nw, ws·ws, dim]`: zero-pad to nw·ws at the bottom/right, windows ordered by
 * window row then column, tokens row-major inside a window.
 */
function windowPartition(
  x: Float32Array,
  g: number,
  dim: number,
  ws: number,
  nw: number,
  out: Float32Array,
): Float32Array {
  if (nw * ws !== g) out.fill(0); // the padding (out may be a reused buffer)
  for (let wy = 0; wy < nw; wy++) {
    for (let wx = 0; wx < nw; wx++) {
      const base = (wy * nw + wx) * ws * ws;
      const gx0 = wx * ws;
      const n = Math.min(ws, g - gx0); // tokens of this window row inside the grid
      for (let y = 0; y < ws; y++) {
        const gy = wy * ws + y;
        if (gy >= g) break;
        const src = (gy * g + gx0) * dim;
        out.set(x.subarray(src, src + n * dim), (base + y * ws) * dim);
      }
    }
  }
  return out;
}

/** Inverse of {@link windowPartition}, dropping the padding: `[nw·nw, ws·ws, dim]` -> `[g, g, dim]`. */
function windowUnpartition(
  w: Float32Array,
  g: number,
  dim: number,
  ws: number,
  nw: number,
  out: Float32Array,
): Float32Array {
  for (let gy = 0; gy < g; gy++) {
    const wy = Math.floor(gy / ws);
    const y = gy - wy * ws;
    for (let wx = 0; wx < nw; wx++) {
      const gx0 = wx * ws;
      const n = Math.min(ws, g - gx0); // a window row's tokens inside the grid are contiguous in both
      const src = ((wy * nw + wx) * ws * ws + y * ws) * dim;
      out.set(w.subarray(src, src + n * dim), (gy * g + gx0) * dim);
    }
  }
  return out;
}

/** Where and under which names SAM dumps its intermediates. */
export interface SamDump {
  dumper: Dumper;
  /** Name prefix, e.g. "sam.global" -> `sam.global.patch_embed.out`, `sam.global.block{i}.out`, ... */
  prefix: string;
}

/** Result of {@link SamEncoder.forward}: NCHW features of one view. */
export interface SamOutput {
  /** `[channels, h, w]` row-major. */
  data: Float32Array;
  channels: number;
  h: number;
  w: number;
}

/** The SAM ViT-B encoder (spec 5.1). */
export class SamEncoder {
  /** pos_embed resized to g x g (NHWC `[g, g, C]`), cached per grid side. */
  private readonly posCache = new Map<number, Float32Array>();

  constructor(
    private readonly k: Kernels,
    readonly cfg: SamConfig,
    readonly patchEmbed: Conv2d,
    /** `pos_embed` `[P, P, C]` NHWC with P = imgSize / patchSize (64). */
    readonly posEmbed: Float32Array,
    readonly blocks: SamBlock[],
    /** neck.0: 1x1 conv without bias, applied as a Linear on NHWC rows (`[outChans, embedDim]`). */
    readonly neck0: Linear,
    readonly neck1: LayerNorm,
    readonly neck2: Conv2d,
    readonly neck3: LayerNorm,
    readonly net2: Conv2d,
    readonly net3: Conv2d,
  ) {}

  /**
   * Reads every `<prefix>.*` tensor with the sizes of `cfg` (spec tensor-names.md, SAM section).
   * @throws CheckpointError when a tensor is missing or its shape disagrees with the config
   */
  static load(ctx: LoadContext, cfg: SamConfig, prefix = SAM_PREFIX): SamEncoder {
    const c = cfg.embedDim;
    const p = Math.floor(cfg.imgSize / cfg.patchSize);
    const global = new Set(cfg.globalAttnIndexes);
    const blocks: SamBlock[] = [];
    const scratch = new Scratch();
    for (let i = 0; i < cfg.depth; i++) {
      blocks.push(SamBlock.load(ctx, `${prefix}.blocks.${i}`, cfg, global.has(i), scratch));
    }
    const neck = cfg.outChans;
    const [d2, d3] = cfg.downsampleChannels;
    return new SamEncoder(
      ctx.k,
      cfg,
      Conv2d.load(ctx, `${prefix}.patch_embed.proj`, 3, c, cfg.patchSize, cfg.patchSize, 0, true),
      ctx.ckpt.readF32(`${prefix}.pos_embed`, [1, p, p, c]),
      blocks,
      new Linear(ctx.k, readPackedWeight(ctx, `${prefix}.neck.0.weight`, [neck, c, 1, 1]), null),
      LayerNorm.load(ctx, `${prefix}.neck.1`, neck, cfg.layerNormEps),
      Conv2d.load(ctx, `${prefix}.neck.2`, neck, neck, 3, 1, 1, false),
      LayerNorm.load(ctx, `${prefix}.neck.3`, neck, cfg.layerNormEps),
      Conv2d.load(ctx, `${prefix}.net_2`, neck, d2, 3, 2, 1, false),
      Conv2d.load(ctx, `${prefix}.net_3`, d2, d3, 3, 2, 1, false),
    );
  }

  /** Output channels (net_3 width). */
  get outChannels(): number {
    return this.net3.outChannels;
  }

  /**
   * The absolute position embedding for a g x g grid, `[g, g, C]` NHWC: the stored 64x64 table, or
   * its f32 antialiased bicubic resize (spec 5.1 step 2). Cached.
   */
  posEmbedFor(g: number): Float32Array {
    let pe = this.posCache.get(g);
    if (!pe) {
      const p = Math.floor(this.cfg.imgSize / this.cfg.patchSize);
      pe = g === p ? this.posEmbed : resizeBicubicAntialias(this.posEmbed, p, p, this.cfg.embedDim, g, g);
      this.posCache.set(g, pe);
    }
    return pe;
  }

  /**
   * Encodes one square view.
   *
   * The pixels are rounded to bf16 first (the official `infer()` and vLLM both feed bf16 pixels,
   * spec 10.1; a no-op for pixels that are already bf16 values).
   *
   * Dumps (when `dump` is given, names `<prefix>.…`): `patch_embed.out` `[1, g, g, C]` (before the
   * pos-embed add), `block{i}.out` `[1, g, g, C]`, `neck.out` `[1, neck, g, g]`, `net_2.out`
   * `[1, C2, g2, g2]`, and `out` `[1, C3, h, w]`.
   *
   * @param pixels `[3, size, size]` normalised pixels, channel-major
   * @param size view side in pixels (1024 global view, 768 v2 tile, 640/512/1280 v1)
   * @returns `[C3, h, w]` NCHW with h = w = {@link samGeometry}(size).outGrid
   * @throws RangeError when `pixels.length !== 3 * size * size`
   */
  forward(pixels: Float32Array, size: number, dump?: SamDump): SamOutput {
    if (pixels.length !== 3 * size * size) {
      throw new RangeError(`SAM: view has ${pixels.length} values, expected 3x${size}x${size}`);
    }
    const c = this.cfg.embedDim;
    const d = dump?.dumper;
    const pre = dump?.prefix;
    const pe = this.patchEmbed.forward(roundToBf16(pixels), size, size);
    const g = pe.h;
    const m = g * g;
    let x = transpose2d(pe.data, c, m); // [g, g, C]
    d?.put(`${pre}.patch_embed.out`, x, [1, g, g, c]);
    this.k.add(x, this.posEmbedFor(g));
    for (let i = 0; i < this.blocks.length; i++) {
      x = this.blocks[i].forward(x, g);
      d?.put(`${pre}.block${i}.out`, x, [1, g, g, c]);
    }
    // Neck: 1x1 conv on NHWC rows, LayerNorm2d = LayerNorm over channels of each pixel.
    const nc = this.cfg.outChans;
    let y = this.neck1.forward(this.neck0.forward(x, m), m); // [g, g, neck]
    const n2 = this.neck2.forward(transpose2d(y, m, nc), g, g); // [neck, g, g]
    y = this.neck3.forward(transpose2d(n2.data, nc, m), m); // [g, g, neck]
    const neckOut = transpose2d(y, m, nc); // [neck, g, g]
    d?.put(`${pre}.neck.out`, neckOut, [1, nc, g, g]);
    const a = this.net2.forward(neckOut, g, g);
    d?.put(`${pre}.net_2.out`, a.data, [1, this.net2.outChannels, a.h, a.w]);
    const b = this.net3.forward(a.data, a.h, a.w);
    d?.put(`${pre}.out`, b.data, [1, this.net3.outChannels, b.h, b.w]);
    return { data: b.data, channels: this.net3.outChannels, h: b.h, w: b.w };
  }
}
