/**
 * config.json parser for DeepSeek-OCR 2 (`DeepseekOCR2ForCausalLM`, "v2") and DeepSeek-OCR
 * (`DeepseekOCRForCausalLM`, "v1").
 *
 * Sources: ../shared/spec/deepseek-ocr.md section 2.2 (keys and real values, `DeepseekV2Config`
 * defaults for absent keys) and ../shared/spec/config-extension.md (the `vision_config.sam_*`,
 * `qwen2_*`, `clip_*` keys of the tiny test models). Every absent key takes the real model's value,
 * so a real checkpoint's config.json (which has no extension keys) yields the real sizes.
 *
 * Rules:
 * - Language-model keys are read at the top level (what the official HF code reads); when a key is
 *   only under `language_config` (what vLLM reads) that value is used; when both are present they must agree.
 * - `vision_config.width.*` is ignored (the official code does not read it; its v2
 *   `sam_vit_b.downsample_channels` [512, 1024] is wrong, v2 uses [512, 896]).
 * - Unsupported variants are rejected with a clear message: `use_mla: true`, `topk_method` other than
 *   `greedy`, `scoring_func` other than `softmax`, `rope_scaling`, tied embeddings, non-`linear` projectors.
 */
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "./errors.ts";
import type {
  ClipConfig,
  LanguageConfig,
  ModelConfig,
  ProjectorConfig,
  Qwen2EncoderConfig,
  SamConfig,
} from "./types.ts";

/** `architectures` entry of DeepSeek-OCR 2. */
export const ARCH_V2 = "DeepseekOCR2ForCausalLM";
/** `architectures` entry of DeepSeek-OCR (v1). */
export const ARCH_V1 = "DeepseekOCRForCausalLM";
/** `<image>` placeholder id (spec 4.5; hard-coded by the official `infer()`). */
export const IMAGE_TOKEN_ID = 128815;

/** Real DeepSeek-OCR 2 / DeepSeek-OCR language-model values (spec 2.2 and `DeepseekV2Config` defaults). */
export const REAL_LANGUAGE: Readonly<LanguageConfig> = Object.freeze({
  vocabSize: 129280,
  hiddenSize: 1280,
  numHiddenLayers: 12,
  numAttentionHeads: 10,
  numKeyValueHeads: 10,
  intermediateSize: 6848,
  moeIntermediateSize: 896,
  firstKDenseReplace: 1,
  moeLayerFreq: 1,
  nRoutedExperts: 64,
  nSharedExperts: 2,
  numExpertsPerTok: 6,
  topkMethod: "greedy",
  scoringFunc: "softmax",
  normTopkProb: false,
  routedScalingFactor: 1.0,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 8192,
  attentionBias: false,
  useMla: false,
  bosTokenId: 0,
  eosTokenId: 1,
});

/** Real SAM ViT-B values (spec 5.1); `downsampleChannels` is the v2 value ([512, 1024] for v1). */
export const REAL_SAM: Readonly<SamConfig> = Object.freeze({
  embedDim: 768,
  depth: 12,
  numHeads: 12,
  globalAttnIndexes: [2, 5, 8, 11],
  outChans: 256,
  downsampleChannels: [512, 896] as [number, number],
  patchSize: 16,
  imgSize: 1024,
  windowSize: 14,
  mlpRatio: 4,
  layerNormEps: 1e-6,
});

/** Real Qwen2 decoder-as-encoder values (spec 5.2). */
export const REAL_QWEN2: Readonly<Qwen2EncoderConfig> = Object.freeze({
  hiddenSize: 896,
  numHiddenLayers: 24,
  numAttentionHeads: 14,
  numKeyValueHeads: 2,
  intermediateSize: 4864,
  rmsNormEps: 1e-6,
  ropeTheta: 1e6,
});

/** Real CLIP-L values (spec 7.3). */
export const REAL_CLIP: Readonly<ClipConfig> = Object.freeze({
  hiddenSize: 1024,
  numLayers: 24,
  numHeads: 16,
  ffnHiddenSize: 4096,
  layerNormEps: 1e-5,
  numPositions: 257,
});

type Obj = Record<string, unknown>;

function fmt(v: unknown): string {
  if (v === undefined) return "undefined";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Value readers bound to one file; each throws ConfigError naming the file and key. */
class Check {
  constructor(readonly file: string) {}

  fail(key: string, detail: string, got?: unknown, showGot = true): never {
    throw new ConfigError(this.file, key, showGot ? `${detail} (got ${fmt(got)})` : detail);
  }

  posInt(key: string, v: unknown): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) this.fail(key, "must be a positive integer", v);
    return v as number;
  }

  nonNegInt(key: string, v: unknown): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      this.fail(key, "must be a non-negative integer", v);
    }
    return v as number;
  }

  posNum(key: string, v: unknown): number {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) this.fail(key, "must be a positive number", v);
    return v as number;
  }

  bool(key: string, v: unknown): boolean {
    if (typeof v !== "boolean") this.fail(key, "must be true or false", v);
    return v as boolean;
  }

  str(key: string, v: unknown): string {
    if (typeof v !== "string") this.fail(key, "must be a string", v);
    return v as string;
  }

  intList(key: string, v: unknown, elem: "pos" | "nonneg"): number[] {
    const ok =
      Array.isArray(v) &&
      v.every((x) => typeof x === "number" && Number.isSafeInteger(x) && (elem === "pos" ? x > 0 : x >= 0));
    if (!ok) this.fail(key, `must be a list of ${elem === "pos" ? "positive" : "non-negative"} integers`, v);
    return [...(v as number[])];
  }
}

/**
 * Parses a config.json object (or its text) into a {@link ModelConfig} (spec 2.2, config-extension.md),
 * applying the real model's values for absent keys and validating types, ranges and consistency:
 * - LM: positive sizes, `hidden_size % num_attention_heads == 0`, even head_dim,
 *   `num_attention_heads % num_key_value_heads == 0`, `num_experts_per_tok <= n_routed_experts`,
 *   `first_k_dense_replace <= num_hidden_layers`, bos/eos/`<image>` ids < vocab_size, `use_mla` false,
 *   `topk_method` greedy, `scoring_func` softmax, no `rope_scaling`, `hidden_act` silu, untied embeddings;
 * - SAM: `sam_embed_dim % sam_num_heads == 0`, global indexes unique and < depth, two downsample channels;
 * - v2: Qwen2 head checks, `sam_downsample_channels[1] == qwen2_hidden_size`; v1: CLIP head check,
 *   `sam_downsample_channels[1] == clip_hidden_size`;
 * - projector: type linear, `input_dim` = Qwen2 width (v2) or CLIP width + SAM channels (v1), `n_embed` = LM width.
 *
 * @param json the parsed JSON value, or the JSON text
 * @param source file name or label used at the start of error messages
 * @returns the typed config; `raw` is the parsed object
 * @throws ConfigError (one line: `<source>: <key> <problem> (got <value>)`)
 */
export function parseConfig(json: unknown, source = "config.json"): ModelConfig {
  const c = new Check(source);
  let raw: unknown = json;
  if (typeof json === "string") {
    try {
      raw = JSON.parse(json);
    } catch (e) {
      throw new ConfigError(source, "", `is not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObj(raw)) throw new ConfigError(source, "", `must contain a JSON object (got ${fmt(raw)})`);
  const root = raw;

  const lc = root.language_config;
  if (lc !== undefined && !isObj(lc)) c.fail("language_config", "must be an object", lc);
  const lang = (lc ?? {}) as Obj;
  const vcRaw = root.vision_config;
  if (vcRaw !== undefined && !isObj(vcRaw)) c.fail("vision_config", "must be an object", vcRaw);
  const vc = (vcRaw ?? {}) as Obj;
  const pcRaw = root.projector_config;
  if (pcRaw !== undefined && !isObj(pcRaw)) c.fail("projector_config", "must be an object", pcRaw);
  const pc = (pcRaw ?? {}) as Obj;

  // ---- version ----
  const { version, architecture } = detectVersion(c, root, vc);

  // ---- language model ----
  /**
   * LM key lookup: top level first, then language_config. Both present must agree; that is checked
   * after the values' own validation (so a bad top-level value is reported as such).
   */
  const consulted = new Set<string>();
  const lm = (k: string): { v: unknown; key: string } | undefined => {
    consulted.add(k);
    const top = root[k];
    const sub = lang[k];
    if (top !== undefined) return { v: top, key: k };
    if (sub !== undefined) return { v: sub, key: `language_config.${k}` };
    return undefined;
  };
  const lmPosInt = (k: string, def: number): number => {
    const e = lm(k);
    return e === undefined ? def : c.posInt(e.key, e.v);
  };
  const lmNonNegInt = (k: string, def: number): number => {
    const e = lm(k);
    return e === undefined ? def : c.nonNegInt(e.key, e.v);
  };
  const lmPosNum = (k: string, def: number): number => {
    const e = lm(k);
    return e === undefined ? def : c.posNum(e.key, e.v);
  };
  const lmBool = (k: string, def: boolean): boolean => {
    const e = lm(k);
    return e === undefined ? def : c.bool(e.key, e.v);
  };

  const R = REAL_LANGUAGE;
  const vocabSize = lmPosInt("vocab_size", R.vocabSize);
  const hiddenSize = lmPosInt("hidden_size", R.hiddenSize);
  const numHiddenLayers = lmPosInt("num_hidden_layers", R.numHiddenLayers);
  const numAttentionHeads = lmPosInt("num_attention_heads", R.numAttentionHeads);
  const kvEntry = lm("num_key_value_heads");
  const numKeyValueHeads =
    kvEntry === undefined || kvEntry.v === null ? numAttentionHeads : c.posInt(kvEntry.key, kvEntry.v);
  const intermediateSize = lmPosInt("intermediate_size", R.intermediateSize);
  const moeIntermediateSize = lmPosInt("moe_intermediate_size", R.moeIntermediateSize);
  const firstKDenseReplace = lmNonNegInt("first_k_dense_replace", R.firstKDenseReplace);
  const moeLayerFreq = lmPosInt("moe_layer_freq", R.moeLayerFreq);
  const nRoutedExperts = lmPosInt("n_routed_experts", R.nRoutedExperts);
  const sharedEntry = lm("n_shared_experts");
  const nSharedExperts =
    sharedEntry === undefined
      ? R.nSharedExperts
      : sharedEntry.v === null
        ? 0
        : c.nonNegInt(sharedEntry.key, sharedEntry.v);
  const numExpertsPerTok = lmPosInt("num_experts_per_tok", R.numExpertsPerTok);
  const normTopkProb = lmBool("norm_topk_prob", R.normTopkProb);
  const routedScalingFactor = lmPosNum("routed_scaling_factor", R.routedScalingFactor);
  const rmsNormEps = lmPosNum("rms_norm_eps", R.rmsNormEps);
  const ropeTheta = lmPosNum("rope_theta", R.ropeTheta);
  const maxPositionEmbeddings = lmPosInt("max_position_embeddings", R.maxPositionEmbeddings);
  const attentionBias = lmBool("attention_bias", R.attentionBias);
  const bosTokenId = lmNonNegInt("bos_token_id", R.bosTokenId);
  const eosTokenId = lmNonNegInt("eos_token_id", R.eosTokenId);

  const useMla = lm("use_mla");
  if (useMla !== undefined) {
    c.bool(useMla.key, useMla.v);
    if (useMla.v === true) {
      c.fail(
        useMla.key,
        "is true: multi-head latent attention (MLA) is not supported; DeepSeek-OCR checkpoints use plain MHA (use_mla: false)",
        undefined,
        false,
      );
    }
  }
  const topk = lm("topk_method");
  if (topk !== undefined && c.str(topk.key, topk.v) !== "greedy") {
    c.fail(topk.key, 'is not supported: only "greedy" top-k routing is implemented', topk.v);
  }
  const scoring = lm("scoring_func");
  if (scoring !== undefined && c.str(scoring.key, scoring.v) !== "softmax") {
    c.fail(scoring.key, 'is not supported: only "softmax" router scoring is implemented', scoring.v);
  }
  const ropeScaling = lm("rope_scaling");
  if (ropeScaling !== undefined && ropeScaling.v !== null) {
    c.fail(ropeScaling.key, "is not supported: only plain RoPE (rope_scaling null) is implemented", ropeScaling.v);
  }
  const act = lm("hidden_act");
  if (act !== undefined && c.str(act.key, act.v) !== "silu") {
    c.fail(act.key, 'is not supported: the language model MLP must use "silu"', act.v);
  }
  const tie = lm("tie_word_embeddings");
  if (tie !== undefined && c.bool(tie.key, tie.v)) {
    c.fail(tie.key, "is true: tied embeddings are not supported (lm_head.weight must be its own tensor)", tie.v);
  }

  const keyOf = (k: string): string => lm(k)?.key ?? k;
  if (hiddenSize % numAttentionHeads !== 0) {
    c.fail(
      keyOf("hidden_size"),
      `(${hiddenSize}) must be divisible by num_attention_heads (${numAttentionHeads})`,
      undefined,
      false,
    );
  }
  if ((hiddenSize / numAttentionHeads) % 2 !== 0) {
    c.fail(
      keyOf("num_attention_heads"),
      `gives an odd head_dim ${hiddenSize / numAttentionHeads} (hidden_size ${hiddenSize}); RoPE needs an even head_dim`,
      undefined,
      false,
    );
  }
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    c.fail(
      keyOf("num_key_value_heads"),
      `(${numKeyValueHeads}) must divide num_attention_heads (${numAttentionHeads})`,
      undefined,
      false,
    );
  }
  if (numExpertsPerTok > nRoutedExperts) {
    c.fail(
      keyOf("num_experts_per_tok"),
      `(${numExpertsPerTok}) must be <= n_routed_experts (${nRoutedExperts})`,
      undefined,
      false,
    );
  }
  if (firstKDenseReplace > numHiddenLayers) {
    c.fail(
      keyOf("first_k_dense_replace"),
      `(${firstKDenseReplace}) must be <= num_hidden_layers (${numHiddenLayers})`,
      undefined,
      false,
    );
  }
  if (bosTokenId >= vocabSize) c.fail(keyOf("bos_token_id"), `must be < vocab_size (${vocabSize})`, bosTokenId);
  if (eosTokenId >= vocabSize) c.fail(keyOf("eos_token_id"), `must be < vocab_size (${vocabSize})`, eosTokenId);
  if (IMAGE_TOKEN_ID >= vocabSize) {
    c.fail(keyOf("vocab_size"), `must be > the <image> token id ${IMAGE_TOKEN_ID}`, vocabSize);
  }

  // ---- dtype ----
  const dt = lm("torch_dtype");
  const torchDtype = dt === undefined ? "bfloat16" : c.str(dt.key, dt.v);
  if (!["bfloat16", "float16", "float32"].includes(torchDtype)) {
    c.fail(dt?.key ?? "torch_dtype", 'must be "bfloat16", "float16" or "float32"', torchDtype);
  }

  for (const k of consulted) {
    const top = root[k];
    const sub = lang[k];
    if (top !== undefined && sub !== undefined && !deepEqual(top, sub)) {
      c.fail(`language_config.${k}`, `(${fmt(sub)}) disagrees with top-level ${k} (${fmt(top)})`, undefined, false);
    }
  }

  const language: LanguageConfig = {
    vocabSize,
    hiddenSize,
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    intermediateSize,
    moeIntermediateSize,
    firstKDenseReplace,
    moeLayerFreq,
    nRoutedExperts,
    nSharedExperts,
    numExpertsPerTok,
    topkMethod: "greedy",
    scoringFunc: "softmax",
    normTopkProb,
    routedScalingFactor,
    rmsNormEps,
    ropeTheta,
    maxPositionEmbeddings,
    attentionBias,
    useMla: false,
    bosTokenId,
    eosTokenId,
  };

  // ---- vision ----
  const vkey = (k: string): string => `vision_config.${k}`;
  const vPosInt = (k: string, def: number): number => (vc[k] === undefined ? def : c.posInt(vkey(k), vc[k]));
  const wrongPrefix = version === "v2" ? "clip_" : "qwen2_";
  for (const k of Object.keys(vc)) {
    if (k.startsWith(wrongPrefix)) {
      c.fail(
        vkey(k),
        `is a ${version === "v2" ? "DeepSeek-OCR (v1) CLIP" : "DeepSeek-OCR 2 Qwen2-encoder"} key, not valid for ${architecture}`,
        undefined,
        false,
      );
    }
  }

  const samEmbedDim = vPosInt("sam_embed_dim", REAL_SAM.embedDim);
  const samDepth = vPosInt("sam_depth", REAL_SAM.depth);
  const samHeads = vPosInt("sam_num_heads", REAL_SAM.numHeads);
  if (samEmbedDim % samHeads !== 0) {
    c.fail(
      vkey("sam_embed_dim"),
      `(${samEmbedDim}) must be divisible by vision_config.sam_num_heads (${samHeads})`,
      undefined,
      false,
    );
  }
  let globalIdx = [...REAL_SAM.globalAttnIndexes];
  if (vc.sam_global_attn_indexes !== undefined) {
    globalIdx = c.intList(vkey("sam_global_attn_indexes"), vc.sam_global_attn_indexes, "nonneg");
  }
  for (const i of globalIdx) {
    if (i >= samDepth) {
      c.fail(vkey("sam_global_attn_indexes"), `has block ${i}, but sam_depth is ${samDepth}`, globalIdx);
    }
  }
  if (new Set(globalIdx).size !== globalIdx.length) {
    c.fail(vkey("sam_global_attn_indexes"), "has duplicate entries", globalIdx);
  }
  const samOut = vPosInt("sam_out_chans", REAL_SAM.outChans);
  let ds: [number, number] = version === "v2" ? [512, 896] : [512, 1024];
  if (vc.sam_downsample_channels !== undefined) {
    const l = c.intList(vkey("sam_downsample_channels"), vc.sam_downsample_channels, "pos");
    if (l.length !== 2) c.fail(vkey("sam_downsample_channels"), "must have exactly 2 entries [net_2, net_3]", l);
    ds = [l[0], l[1]];
  }
  const sam: SamConfig = {
    embedDim: samEmbedDim,
    depth: samDepth,
    numHeads: samHeads,
    globalAttnIndexes: globalIdx,
    outChans: samOut,
    downsampleChannels: ds,
    patchSize: REAL_SAM.patchSize,
    imgSize: REAL_SAM.imgSize,
    windowSize: REAL_SAM.windowSize,
    mlpRatio: REAL_SAM.mlpRatio,
    layerNormEps: REAL_SAM.layerNormEps,
  };

  let qwen2: Qwen2EncoderConfig | undefined;
  let clip: ClipConfig | undefined;
  let projIn: number;
  if (version === "v2") {
    const q: Qwen2EncoderConfig = {
      hiddenSize: vPosInt("qwen2_hidden_size", REAL_QWEN2.hiddenSize),
      numHiddenLayers: vPosInt("qwen2_num_hidden_layers", REAL_QWEN2.numHiddenLayers),
      numAttentionHeads: vPosInt("qwen2_num_attention_heads", REAL_QWEN2.numAttentionHeads),
      numKeyValueHeads: vPosInt("qwen2_num_key_value_heads", REAL_QWEN2.numKeyValueHeads),
      intermediateSize: vPosInt("qwen2_intermediate_size", REAL_QWEN2.intermediateSize),
      rmsNormEps: REAL_QWEN2.rmsNormEps,
      ropeTheta: REAL_QWEN2.ropeTheta,
    };
    if (q.hiddenSize % q.numAttentionHeads !== 0) {
      c.fail(
        vkey("qwen2_hidden_size"),
        `(${q.hiddenSize}) must be divisible by vision_config.qwen2_num_attention_heads (${q.numAttentionHeads})`,
        undefined,
        false,
      );
    }
    if ((q.hiddenSize / q.numAttentionHeads) % 2 !== 0) {
      c.fail(
        vkey("qwen2_num_attention_heads"),
        `gives an odd head_dim ${q.hiddenSize / q.numAttentionHeads}; RoPE needs an even head_dim`,
        undefined,
        false,
      );
    }
    if (q.numAttentionHeads % q.numKeyValueHeads !== 0) {
      c.fail(
        vkey("qwen2_num_key_value_heads"),
        `(${q.numKeyValueHeads}) must divide vision_config.qwen2_num_attention_heads (${q.numAttentionHeads})`,
        undefined,
        false,
      );
    }
    if (ds[1] !== q.hiddenSize) {
      c.fail(
        vkey("sam_downsample_channels"),
        `[1] (${ds[1]}) must equal the Qwen2 encoder width vision_config.qwen2_hidden_size (${q.hiddenSize})`,
        undefined,
        false,
      );
    }
    qwen2 = q;
    projIn = q.hiddenSize;
  } else {
    const cl: ClipConfig = {
      hiddenSize: vPosInt("clip_hidden_size", REAL_CLIP.hiddenSize),
      numLayers: vPosInt("clip_num_layers", REAL_CLIP.numLayers),
      numHeads: vPosInt("clip_num_heads", REAL_CLIP.numHeads),
      ffnHiddenSize: vPosInt("clip_ffn_hidden_size", REAL_CLIP.ffnHiddenSize),
      layerNormEps: REAL_CLIP.layerNormEps,
      numPositions: REAL_CLIP.numPositions,
    };
    if (cl.hiddenSize % cl.numHeads !== 0) {
      c.fail(
        vkey("clip_hidden_size"),
        `(${cl.hiddenSize}) must be divisible by vision_config.clip_num_heads (${cl.numHeads})`,
        undefined,
        false,
      );
    }
    if (ds[1] !== cl.hiddenSize) {
      c.fail(
        vkey("sam_downsample_channels"),
        `[1] (${ds[1]}) must equal the CLIP width vision_config.clip_hidden_size (${cl.hiddenSize})`,
        undefined,
        false,
      );
    }
    clip = cl;
    projIn = cl.hiddenSize + ds[1];
  }

  // ---- projector ----
  const pType =
    pc.projector_type === undefined ? "linear" : c.str("projector_config.projector_type", pc.projector_type);
  if (pType !== "linear") {
    c.fail("projector_config.projector_type", 'is not supported: only "linear" is implemented', pType);
  }
  const inputDim = pc.input_dim === undefined ? projIn : c.posInt("projector_config.input_dim", pc.input_dim);
  if (inputDim !== projIn) {
    c.fail(
      "projector_config.input_dim",
      version === "v2"
        ? `(${inputDim}) must equal the Qwen2 encoder width (${projIn})`
        : `(${inputDim}) must equal CLIP width + SAM net_3 channels (${projIn})`,
      undefined,
      false,
    );
  }
  const nEmbed = pc.n_embed === undefined ? hiddenSize : c.posInt("projector_config.n_embed", pc.n_embed);
  if (nEmbed !== hiddenSize) {
    c.fail(
      "projector_config.n_embed",
      `(${nEmbed}) must equal the language model hidden_size (${hiddenSize})`,
      undefined,
      false,
    );
  }
  const projector: ProjectorConfig = { inputDim, nEmbed, projectorType: "linear" };

  const out: ModelConfig = {
    version,
    architecture,
    sam,
    projector,
    language,
    imageTokenId: IMAGE_TOKEN_ID,
    torchDtype,
    raw: root,
  };
  if (qwen2) out.qwen2 = qwen2;
  if (clip) out.clip = clip;
  return out;
}

function detectVersion(c: Check, root: Obj, vc: Obj): { version: "v1" | "v2"; architecture: string } {
  let archVersion: "v1" | "v2" | undefined;
  let architecture: string | undefined;
  const archs = root.architectures;
  if (archs !== undefined) {
    if (!Array.isArray(archs) || !archs.every((a) => typeof a === "string")) {
      c.fail("architectures", "must be a list of strings", archs);
    }
    for (const a of archs as string[]) {
      const v = a === ARCH_V2 ? "v2" : a === ARCH_V1 ? "v1" : undefined;
      if (!v) continue;
      if (archVersion && archVersion !== v) {
        c.fail("architectures", `names both ${ARCH_V2} and ${ARCH_V1}`, archs);
      }
      archVersion = v;
      architecture = a;
    }
  }
  let nameVersion: "v1" | "v2" | undefined;
  const mn = vc.model_name;
  if (mn !== undefined) {
    const name = c.str("vision_config.model_name", mn);
    nameVersion = name === "deepencoderv2" ? "v2" : name === "deeplip_b_l" ? "v1" : undefined;
  }
  if (archVersion && nameVersion && archVersion !== nameVersion) {
    c.fail(
      "vision_config.model_name",
      `(${fmt(mn)}, ${nameVersion}) contradicts architectures ${architecture} (${archVersion})`,
      undefined,
      false,
    );
  }
  const version = archVersion ?? nameVersion;
  if (!version) {
    c.fail(
      "architectures",
      `must contain ${ARCH_V2} or ${ARCH_V1} (or vision_config.model_name deepencoderv2 / deeplip_b_l)`,
      archs,
    );
  }
  return { version: version as "v1" | "v2", architecture: architecture ?? (version === "v2" ? ARCH_V2 : ARCH_V1) };
}

/**
 * Reads and parses `config.json` (see {@link parseConfig}).
 * @param path a checkpoint directory (reads `<dir>/config.json`) or the path of a config file
 * @throws ConfigError when the file is missing or unreadable, not valid JSON, or invalid
 */
export function loadConfig(path: string): ModelConfig {
  let file = resolve(path);
  try {
    if (statSync(file).isDirectory()) file = join(file, "config.json");
  } catch {
    // fall through: readFileSync reports the missing path
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, "", `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseConfig(text, file);
}
