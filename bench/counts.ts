/**
 * What each bench figure assumes: FLOPs of the GEMMs and model stages, bytes of weights read per
 * decoded token. Pure functions of the model config (tested on the tiny config in
 * test/bench/counts.test.ts); BENCHMARKS.md gives the same formulas.
 *
 * Conventions: a multiply-add is 2 FLOPs. Only matrix-product work is counted (linears, convs as
 * im2col GEMMs, attention QKᵀ and PV, SAM's decomposed rel-pos products); norms, activations,
 * softmax, RoPE and adds are not (they are < 2% of every stage here).
 */
import type { LanguageConfig, ModelConfig, Qwen2EncoderConfig, SamConfig } from "../src/config/types.ts";
import { INT8_GROUP } from "../src/kernels/types.ts";

/** A GEMM y[M, N] = x[M, K] · W[N, K]ᵀ. */
export interface GemmShape {
  m: number;
  k: number;
  n: number;
  /** Where the model runs this shape (several sites can share one shape). */
  uses: string[];
  /**
   * The precisions in which the model runs it, when not f32 and bf16: the MoE router is always f32
   * (as the official code, which upcasts router inputs and weight to f32); the language model's
   * other linears also run over int8 weights (precision int8).
   */
  precisions?: GemmPrecision[];
}

/** Weight format of a GEMM figure: f32, bf16 (packed), int8 (packed, group scales). */
export type GemmPrecision = "f32" | "bf16" | "int8";

/** 2·M·K·N. */
export function gemmFlops(m: number, k: number, n: number): number {
  return 2 * m * k * n;
}

/** Output side of a convolution: floor((n + 2·pad − k) / stride) + 1. */
function convOut(n: number, k: number, stride: number, pad: number): number {
  return Math.floor((n + 2 * pad - k) / stride) + 1;
}

/** SAM geometry of an s-pixel view: patch grid g, windows per side, padded window rows, output grids. */
export function samDims(sam: SamConfig, size: number) {
  const g = convOut(size, sam.patchSize, sam.patchSize, 0);
  const ws = sam.windowSize;
  const nw = Math.ceil(g / ws);
  const g2 = convOut(g, 3, 2, 1);
  const g3 = convOut(g2, 3, 2, 1);
  return {
    /** Patch grid side (64 at 1024 px, 48 at 768). */
    g,
    /** Windows per side (zero-padded to nw·ws). */
    nw,
    /** Rows of a windowed block's qkv/proj: nw²·ws² (padding included, as executed). */
    windowRows: nw * nw * ws * ws,
    mlpHidden: Math.round(sam.embedDim * sam.mlpRatio),
    g2,
    g3,
    /** Output tokens g3². */
    tokens: g3 * g3,
  };
}

/**
 * SAM ViT-B FLOPs for one s-pixel view: patch-embed conv (2·g²·C·3p²); per block qkv (2·R·C·3C),
 * attention QKᵀ and PV (2·R·L·C each, R rows in batches of L keys: global R = L = g², windowed
 * R = nw²·ws², L = ws², padded tokens included), rel-pos (q·Rhᵀ and q·Rwᵀ: 2·R·side·C each),
 * proj (2·R·C²), MLP (2·2·g²·C·4C); neck 1x1 (2·g²·C·out), neck 3x3 (2·g²·out²·9), net_2
 * (2·g2²·out·d2·9), net_3 (2·g3²·d2·d3·9).
 */
export function samFlops(sam: SamConfig, size: number): number {
  const d = samDims(sam, size);
  const c = sam.embedDim;
  const global = new Set(sam.globalAttnIndexes);
  let f = gemmFlops(d.g * d.g, 3 * sam.patchSize * sam.patchSize, c);
  for (let i = 0; i < sam.depth; i++) {
    const isGlobal = global.has(i);
    const r = isGlobal ? d.g * d.g : d.windowRows;
    const side = isGlobal ? d.g : sam.windowSize;
    const l = side * side;
    f += gemmFlops(r, c, 3 * c); // qkv
    f += 2 * gemmFlops(r, l, c); // QKᵀ and PV over all heads
    f += 2 * gemmFlops(r, side, c); // rel-pos h and w terms
    f += gemmFlops(r, c, c); // proj
    f += gemmFlops(d.g * d.g, c, d.mlpHidden) + gemmFlops(d.g * d.g, d.mlpHidden, c); // MLP
  }
  const o = sam.outChans;
  const [d2, d3] = sam.downsampleChannels;
  f += gemmFlops(d.g * d.g, c, o); // neck.0 1x1
  f += gemmFlops(d.g * d.g, o * 9, o); // neck.2 3x3
  f += gemmFlops(d.g2 * d.g2, o * 9, d2); // net_2
  f += gemmFlops(d.g3 * d.g3, d2 * 9, d3); // net_3
  return f;
}

/**
 * Qwen2 encoder FLOPs on n SAM tokens (rows L = 2n: tokens + queries): per layer q and o
 * (2·L·H² each), k and v (2·L·H·kvH·hd each), attention QKᵀ and PV over the full L x L grid
 * (2·L²·H each; the causal-flow mask is applied, not skipped), MLP (3 · 2·L·H·I).
 */
export function qwen2EncoderFlops(q: Qwen2EncoderConfig, n: number): number {
  const l = 2 * n;
  const h = q.hiddenSize;
  const kv = (h / q.numAttentionHeads) * q.numKeyValueHeads;
  const perLayer =
    2 * gemmFlops(l, h, h) + 2 * gemmFlops(l, h, kv) + 2 * gemmFlops(l, l, h) + 3 * gemmFlops(l, h, q.intermediateSize);
  return q.numHiddenLayers * perLayer;
}

/** One view through SAM, the Qwen2 encoder and the projector (2·n·in·nEmbed). */
export function viewFlops(cfg: ModelConfig, size: number): number {
  if (!cfg.qwen2) throw new Error("viewFlops: not a DeepSeek-OCR 2 config");
  const n = samDims(cfg.sam, size).tokens;
  return (
    samFlops(cfg.sam, size) +
    qwen2EncoderFlops(cfg.qwen2, n) +
    gemmFlops(n, cfg.projector.inputDim, cfg.projector.nEmbed)
  );
}

/** encode.tiles{T}: T views of `tileSize` px plus the global view of `globalSize` px. */
export function encodeFlops(cfg: ModelConfig, tiles: number, globalSize = 1024, tileSize = 768): number {
  return tiles * viewFlops(cfg, tileSize) + viewFlops(cfg, globalSize);
}

/** True when LM layer i is a MoE layer (DeepseekV2's rule). */
function isMoe(lm: LanguageConfig, i: number): boolean {
  return lm.nRoutedExperts > 0 && i >= lm.firstKDenseReplace && i % Math.max(1, lm.moeLayerFreq) === 0;
}

/**
 * LM prefill FLOPs of m rows from position 0: per layer q/k/v/o (2·m·H·(H or kv) each), causal
 * attention QKᵀ and PV over the m(m+1)/2 visible pairs (2·H·m(m+1)/2 each); layer 0 dense SwiGLU
 * (3 · 2·m·H·I); MoE layers: router (2·m·H·E), top-k routed experts (k · 3 · 2·m·H·Ie) and the fused
 * shared experts (3 · 2·m·H·Ie·ns); lm_head on the last row only (2·H·V).
 */
export function prefillFlops(lm: LanguageConfig, m: number): number {
  const h = lm.hiddenSize;
  const kv = (h / lm.numAttentionHeads) * lm.numKeyValueHeads;
  const pairs = (m * (m + 1)) / 2;
  let f = 0;
  for (let i = 0; i < lm.numHiddenLayers; i++) {
    f += 2 * gemmFlops(m, h, h) + 2 * gemmFlops(m, h, kv) + 2 * 2 * pairs * h;
    if (isMoe(lm, i)) {
      const ie = lm.moeIntermediateSize;
      f += gemmFlops(m, h, lm.nRoutedExperts);
      f += lm.numExpertsPerTok * 3 * gemmFlops(m, h, ie);
      f += 3 * gemmFlops(m, h, ie * lm.nSharedExperts);
    } else {
      f += 3 * gemmFlops(m, h, lm.intermediateSize);
    }
  }
  return f + gemmFlops(1, h, lm.vocabSize);
}

/** Weight-storage precisions of the decode figures. */
export type DecodePrecision = "bf16" | "int8";

/**
 * Bytes of one weight matrix [rows, cols]: bf16 2/param; int8 1/param + one f32 scale per group of
 * `group` (default {@link INT8_GROUP}) values of a row, i.e. 4 · rows · ceil(cols / group).
 */
export function weightBytes(rows: number, cols: number, p: DecodePrecision, group = INT8_GROUP): number {
  return p === "bf16" ? 2 * rows * cols : rows * cols + 4 * rows * Math.ceil(cols / group);
}

/**
 * Weight bytes read per decode step of a batch of b sequences: attention q/k/v/o, layer-0 dense
 * MLP, per MoE layer the router (kept bf16), the shared experts and the routed experts used, the
 * lm_head, plus one bf16 embedding row per sequence. Routed experts per MoE layer: k for b = 1;
 * for b > 1 the expected number of distinct experts under uniform routing, E·(1 − (1 − k/E)^b).
 * Not counted: norm weights (< 0.1 MB) and the KV cache (activations, grows with the context).
 */
export function decodeBytes(lm: LanguageConfig, p: DecodePrecision, batch = 1): number {
  const h = lm.hiddenSize;
  const kv = (h / lm.numAttentionHeads) * lm.numKeyValueHeads;
  const e = lm.nRoutedExperts;
  const k = lm.numExpertsPerTok;
  const experts = batch === 1 ? k : e * (1 - (1 - k / e) ** batch);
  const ie = lm.moeIntermediateSize;
  let b = 0;
  for (let i = 0; i < lm.numHiddenLayers; i++) {
    b += 2 * weightBytes(h, h, p) + 2 * weightBytes(kv, h, p);
    if (isMoe(lm, i)) {
      b += weightBytes(e, h, "bf16");
      b += 2 * weightBytes(ie * lm.nSharedExperts, h, p) + weightBytes(h, ie * lm.nSharedExperts, p);
      b += experts * (2 * weightBytes(ie, h, p) + weightBytes(h, ie, p));
    } else {
      b += 2 * weightBytes(lm.intermediateSize, h, p) + weightBytes(h, lm.intermediateSize, p);
    }
  }
  return b + weightBytes(lm.vocabSize, h, p) + batch * 2 * h;
}

/**
 * KV-cache bytes one decode step of one sequence reads: K and V of every layer at `positions`
 * cached positions, `bytesPerValue` bytes each (2: the bf16 cache of the bf16 and int8 precisions;
 * 4: the f32 cache of f32).
 */
export function kvCacheBytes(lm: LanguageConfig, positions: number, bytesPerValue = 2): number {
  const kv = (lm.hiddenSize / lm.numAttentionHeads) * lm.numKeyValueHeads;
  return lm.numHiddenLayers * 2 * positions * kv * bytesPerValue;
}

/**
 * The distinct linear GEMM shapes the model runs: SAM qkv/proj/mlp/neck at the 1024 global view and
 * the 768 tiles (windowed rows padded), the Qwen2 encoder's stacked q/k/v, o and MLP at 2n rows (512
 * and 288), the projector, and the LM prefill of `prefillRows` rows (stacked q/k/v, o, dense MLP, shared experts,
 * router, routed experts at their average rows ceil(m·k/E)). Ordered as first met.
 */
export function modelGemmShapes(cfg: ModelConfig, prefillRows = 1131, views = [1024, 768]): GemmShape[] {
  const out: GemmShape[] = [];
  const add = (m: number, k: number, n: number, use: string, precisions?: GemmShape["precisions"]) => {
    const s = out.find((x) => x.m === m && x.k === k && x.n === n);
    if (s) {
      if (!s.uses.includes(use)) s.uses.push(use);
    } else out.push(precisions ? { m, k, n, uses: [use], precisions } : { m, k, n, uses: [use] });
  };
  const sam = cfg.sam;
  const c = sam.embedDim;
  for (const size of views) {
    const d = samDims(sam, size);
    const g2 = d.g * d.g;
    add(g2, c, 3 * c, `sam${size}.qkv.global`);
    add(d.windowRows, c, 3 * c, `sam${size}.qkv.window`);
    add(g2, c, c, `sam${size}.proj.global`);
    add(d.windowRows, c, c, `sam${size}.proj.window`);
    add(g2, c, d.mlpHidden, `sam${size}.mlp.lin1`);
    add(g2, d.mlpHidden, c, `sam${size}.mlp.lin2`);
    add(g2, c, sam.outChans, `sam${size}.neck0`);
  }
  if (cfg.qwen2) {
    const q = cfg.qwen2;
    const h = q.hiddenSize;
    const kv = (h / q.numAttentionHeads) * q.numKeyValueHeads;
    for (const size of views) {
      const n = samDims(sam, size).tokens;
      const l = 2 * n;
      add(l, h, h + 2 * kv, `qwen2.${l}.qkv`);
      add(l, h, h, `qwen2.${l}.o`);
      add(l, h, q.intermediateSize, `qwen2.${l}.gate/up`);
      add(l, q.intermediateSize, h, `qwen2.${l}.down`);
      add(n, cfg.projector.inputDim, cfg.projector.nEmbed, `projector.${n}`);
    }
  }
  const lm = cfg.language;
  const m = prefillRows;
  const lmAdd = (mm: number, k: number, n: number, use: string) => add(mm, k, n, use, ["f32", "bf16", "int8"]);
  const h = lm.hiddenSize;
  const kv = (h / lm.numAttentionHeads) * lm.numKeyValueHeads;
  lmAdd(m, h, h + 2 * kv, `lm.${m}.qkv`);
  lmAdd(m, h, h, `lm.${m}.o`);
  lmAdd(m, h, lm.intermediateSize, `lm.${m}.dense.gate/up`);
  lmAdd(m, lm.intermediateSize, h, `lm.${m}.dense.down`);
  if (lm.nRoutedExperts > 0) {
    const ie = lm.moeIntermediateSize;
    const sh = ie * lm.nSharedExperts;
    if (sh > 0) {
      lmAdd(m, h, sh, `lm.${m}.shared.gate/up`);
      lmAdd(m, sh, h, `lm.${m}.shared.down`);
    }
    add(m, h, lm.nRoutedExperts, `lm.${m}.router`, ["f32"]);
    const er = Math.ceil((m * lm.numExpertsPerTok) / lm.nRoutedExperts);
    lmAdd(er, h, ie, `lm.${m}.expert.gate/up`);
    lmAdd(er, ie, h, `lm.${m}.expert.down`);
  }
  return out;
}

/** Bench name of a GEMM figure: `gemm.<M>x<K>x<N>.<precision>`. */
export function gemmName(s: { m: number; k: number; n: number }, precision: string): string {
  return `gemm.${s.m}x${s.k}x${s.n}.${precision}`;
}
