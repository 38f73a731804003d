import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ARCH_V1, ARCH_V2, IMAGE_TOKEN_ID, loadConfig, parseConfig } from "../../src/config/config.ts";
import { ConfigError } from "../../src/config/errors.ts";
import type { ModelConfig } from "../../src/config/types.ts";
import { FIXTURES, tempDir } from "../helpers/paths.ts";

/** LM keys of the real config.json (spec 2.2), present at the top level and under language_config. */
const REAL_LM = {
  bos_token_id: 0,
  eos_token_id: 1,
  first_k_dense_replace: 1,
  hidden_size: 1280,
  intermediate_size: 6848,
  kv_lora_rank: null,
  lm_head: true,
  max_position_embeddings: 8192,
  moe_intermediate_size: 896,
  n_group: 1,
  n_routed_experts: 64,
  n_shared_experts: 2,
  num_attention_heads: 10,
  num_experts_per_tok: 6,
  num_hidden_layers: 12,
  num_key_value_heads: 10,
  q_lora_rank: null,
  qk_nope_head_dim: 0,
  qk_rope_head_dim: 0,
  rm_head: false,
  topk_group: 1,
  topk_method: "greedy",
  use_mla: false,
  v_head_dim: 0,
  vocab_size: 129280,
};

/** The real DeepSeek-OCR 2 config.json, written from the values of spec 2.2 (no extension keys). */
function realV2(): Record<string, unknown> {
  return {
    _name_or_path: "deepseek-ai/DeepSeek-OCR-2",
    candidate_resolutions: [[1024, 1024]],
    global_view_pos: "head",
    architectures: ["DeepseekOCR2ForCausalLM"],
    language_config: { architectures: ["DeepseekV2ForCausalLM"], ...REAL_LM, torch_dtype: "bfloat16" },
    model_type: "deepseek_vl_v2",
    projector_config: { input_dim: 896, model_type: "mlp_projector", n_embed: 1280, projector_type: "linear" },
    tile_tag: "2D",
    torch_dtype: "bfloat16",
    transformers_version: "4.46.3",
    vision_config: {
      image_size: 1024,
      mlp_ratio: 3.7362,
      model_name: "deepencoderv2",
      model_type: "vision",
      width: {
        "qwen2-0-5b": { dim: 896 },
        sam_vit_b: {
          downsample_channels: [512, 1024],
          global_attn_indexes: [2, 5, 8, 11],
          heads: 12,
          layers: 12,
          width: 768,
        },
      },
    },
    ...REAL_LM,
  };
}

/** The real DeepSeek-OCR (v1) config.json (spec 2.2). */
function realV1(): Record<string, unknown> {
  const c = realV2();
  c._name_or_path = "deepseek-ai/DeepSeek-OCR";
  c.architectures = ["DeepseekOCRForCausalLM"];
  c.projector_config = { input_dim: 2048, model_type: "mlp_projector", n_embed: 1280, projector_type: "linear" };
  c.vision_config = {
    image_size: 1024,
    mlp_ratio: 3.7362,
    model_name: "deeplip_b_l",
    model_type: "vision",
    width: {
      "clip-l-14-224": { heads: 16, image_size: 224, layers: 24, patch_size: 14, width: 1024 },
      sam_vit_b: {
        downsample_channels: [512, 1024],
        global_attn_indexes: [2, 5, 8, 11],
        heads: 12,
        layers: 12,
        width: 768,
      },
    },
  };
  return c;
}

function fixtureJson(model: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, "models", model, "config.json"), "utf8"));
}

/** Expects a ConfigError whose one-line message names the file and the key. */
function expectError(json: unknown, key: string, ...fragments: string[]): ConfigError {
  let caught: unknown;
  try {
    parseConfig(json, "config.json");
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError for ${key}, got ${String(caught)}`);
  assert.ok(!caught.message.includes("\n"));
  assert.ok(caught.message.startsWith("config.json: "), caught.message);
  assert.ok(caught.message.includes(key), `"${caught.message}" should name ${key}`);
  assert.equal(caught.key, key, caught.message);
  assert.equal(caught.file, "config.json");
  for (const f of fragments) assert.ok(caught.message.includes(f), `"${caught.message}" should contain "${f}"`);
  return caught;
}

function checkRealLanguage(c: ModelConfig): void {
  assert.deepEqual(c.language, {
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
    routedScalingFactor: 1,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    maxPositionEmbeddings: 8192,
    attentionBias: false,
    useMla: false,
    bosTokenId: 0,
    eosTokenId: 1,
  });
}

describe("parseConfig: valid configs", () => {
  test("tiny-v2 fixture", () => {
    const c = loadConfig(join(FIXTURES, "models", "tiny-v2"));
    assert.equal(c.version, "v2");
    assert.equal(c.architecture, ARCH_V2);
    assert.deepEqual(c.sam, {
      embedDim: 32,
      depth: 4,
      numHeads: 2,
      globalAttnIndexes: [1, 3],
      outChans: 16,
      downsampleChannels: [32, 64],
      patchSize: 16,
      imgSize: 1024,
      windowSize: 14,
      mlpRatio: 4,
      layerNormEps: 1e-6,
    });
    assert.deepEqual(c.qwen2, {
      hiddenSize: 64,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
      numKeyValueHeads: 2,
      intermediateSize: 128,
      rmsNormEps: 1e-6,
      ropeTheta: 1e6,
    });
    assert.equal(c.clip, undefined);
    assert.deepEqual(c.projector, { inputDim: 64, nEmbed: 32, projectorType: "linear" });
    assert.equal(c.language.hiddenSize, 32);
    assert.equal(c.language.numHiddenLayers, 3);
    assert.equal(c.language.numAttentionHeads, 4);
    assert.equal(c.language.numKeyValueHeads, 4);
    assert.equal(c.language.intermediateSize, 96);
    assert.equal(c.language.moeIntermediateSize, 24);
    assert.equal(c.language.nRoutedExperts, 16);
    assert.equal(c.language.numExpertsPerTok, 6);
    assert.equal(c.language.vocabSize, 129280);
    assert.equal(c.imageTokenId, IMAGE_TOKEN_ID);
    assert.equal(c.torchDtype, "bfloat16");
    assert.deepEqual(c.raw, fixtureJson("tiny-v2"));
  });

  test("tiny-v1 fixture", () => {
    const c = loadConfig(join(FIXTURES, "models", "tiny-v1", "config.json"));
    assert.equal(c.version, "v1");
    assert.equal(c.architecture, ARCH_V1);
    assert.deepEqual(c.clip, {
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      ffnHiddenSize: 128,
      layerNormEps: 1e-5,
      numPositions: 257,
    });
    assert.equal(c.qwen2, undefined);
    assert.deepEqual(c.sam.downsampleChannels, [32, 64]);
    assert.deepEqual(c.projector, { inputDim: 128, nEmbed: 16, projectorType: "linear" });
    assert.equal(c.language.hiddenSize, 16);
    assert.equal(c.language.numAttentionHeads, 2);
    assert.equal(c.language.moeIntermediateSize, 12);
  });

  test("real DeepSeek-OCR 2 config: real sizes, width.sam_vit_b.downsample_channels ignored (896)", () => {
    const c = parseConfig(realV2(), "config.json");
    assert.equal(c.version, "v2");
    checkRealLanguage(c);
    assert.deepEqual(c.sam, {
      embedDim: 768,
      depth: 12,
      numHeads: 12,
      globalAttnIndexes: [2, 5, 8, 11],
      outChans: 256,
      downsampleChannels: [512, 896],
      patchSize: 16,
      imgSize: 1024,
      windowSize: 14,
      mlpRatio: 4,
      layerNormEps: 1e-6,
    });
    assert.deepEqual(c.qwen2, {
      hiddenSize: 896,
      numHiddenLayers: 24,
      numAttentionHeads: 14,
      numKeyValueHeads: 2,
      intermediateSize: 4864,
      rmsNormEps: 1e-6,
      ropeTheta: 1e6,
    });
    assert.deepEqual(c.projector, { inputDim: 896, nEmbed: 1280, projectorType: "linear" });
    assert.equal(c.torchDtype, "bfloat16");
  });

  test("real DeepSeek-OCR (v1) config: CLIP-L, [512, 1024], projector 2048", () => {
    const c = parseConfig(JSON.stringify(realV1()), "config.json");
    assert.equal(c.version, "v1");
    checkRealLanguage(c);
    assert.deepEqual(c.sam.downsampleChannels, [512, 1024]);
    assert.deepEqual(c.clip, {
      hiddenSize: 1024,
      numLayers: 24,
      numHeads: 16,
      ffnHiddenSize: 4096,
      layerNormEps: 1e-5,
      numPositions: 257,
    });
    assert.deepEqual(c.projector, { inputDim: 2048, nEmbed: 1280, projectorType: "linear" });
  });

  test("defaults: minimal configs, language_config only, model_name fallback", () => {
    const minimal = parseConfig({ architectures: [ARCH_V2] });
    checkRealLanguage(minimal);
    assert.deepEqual(minimal.projector, { inputDim: 896, nEmbed: 1280, projectorType: "linear" });
    // LM keys only under language_config (vLLM style)
    const lcOnly = realV2();
    for (const k of Object.keys(REAL_LM)) delete lcOnly[k];
    (lcOnly.language_config as Record<string, unknown>).hidden_size = 2560;
    (lcOnly.projector_config as Record<string, unknown>).n_embed = 2560;
    assert.equal(parseConfig(lcOnly).language.hiddenSize, 2560);
    // version from vision_config.model_name when architectures is absent
    const v1 = realV1();
    delete v1.architectures;
    assert.equal(parseConfig(v1).version, "v1");
    assert.equal(parseConfig(v1).architecture, ARCH_V1);
    const v2 = realV2();
    v2.architectures = ["SomethingElse"];
    assert.equal(parseConfig(v2).version, "v2");
    // DeepseekV2Config defaults for keys the real config omits, and explicit values
    const explicit = realV2();
    Object.assign(explicit, {
      rope_theta: 50000,
      rms_norm_eps: 1e-5,
      routed_scaling_factor: 2.5,
      norm_topk_prob: true,
      num_key_value_heads: 5,
      moe_layer_freq: 1,
      scoring_func: "softmax",
      rope_scaling: null,
      hidden_act: "silu",
      tie_word_embeddings: false,
    });
    delete (explicit.language_config as Record<string, unknown>).num_key_value_heads;
    const e = parseConfig(explicit);
    assert.equal(e.language.ropeTheta, 50000);
    assert.equal(e.language.rmsNormEps, 1e-5);
    assert.equal(e.language.routedScalingFactor, 2.5);
    assert.equal(e.language.normTopkProb, true);
    assert.equal(e.language.numKeyValueHeads, 5);
    // num_key_value_heads null -> num_attention_heads
    const nullKv = realV2();
    nullKv.num_key_value_heads = null;
    delete (nullKv.language_config as Record<string, unknown>).num_key_value_heads;
    assert.equal(parseConfig(nullKv).language.numKeyValueHeads, 10);
  });

  test("loadConfig: directory or file; missing file and bad JSON are ConfigErrors", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "config.json"), JSON.stringify(realV2()));
    assert.equal(loadConfig(dir).version, "v2");
    assert.equal(loadConfig(join(dir, "config.json")).version, "v2");
    const missing = tempDir();
    assert.throws(
      () => loadConfig(missing),
      (e: unknown) =>
        e instanceof ConfigError && e.message.includes(join(missing, "config.json")) && /ENOENT/.test(e.message),
    );
    writeFileSync(join(missing, "config.json"), "{ nope");
    assert.throws(
      () => loadConfig(missing),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(join(missing, "config.json")) &&
        /not valid JSON/.test(e.message),
    );
    writeFileSync(join(missing, "config.json"), JSON.stringify({ ...realV2(), hidden_size: "abc" }));
    assert.throws(() => loadConfig(missing), {
      message: `${join(missing, "config.json")}: hidden_size must be a positive integer (got "abc")`,
    });
  });
});

describe("parseConfig: invalid configs", () => {
  const v2 = (patch: (c: Record<string, unknown>) => void): Record<string, unknown> => {
    const c = realV2();
    patch(c);
    return c;
  };
  const tiny = (model: string, patch: (c: Record<string, unknown>) => void): Record<string, unknown> => {
    const c = fixtureJson(model);
    patch(c);
    return c;
  };
  const vc = (c: Record<string, unknown>) => c.vision_config as Record<string, unknown>;
  const lc = (c: Record<string, unknown>) => c.language_config as Record<string, unknown>;
  const both = (c: Record<string, unknown>, k: string, v: unknown) => {
    c[k] = v;
    lc(c)[k] = v;
  };

  test("the documented example message", () => {
    const e = expectError(
      v2((c) => {
        c.hidden_size = "abc";
      }),
      "hidden_size",
    );
    assert.equal(e.message, 'config.json: hidden_size must be a positive integer (got "abc")');
  });

  test("file-level problems", () => {
    assert.throws(() => parseConfig("[1,2]"), /must contain a JSON object/);
    assert.throws(
      () => parseConfig("{"),
      (e: unknown) => e instanceof ConfigError && /not valid JSON/.test(e.message),
    );
    assert.throws(() => parseConfig(null), ConfigError);
  });

  test("types and ranges of LM keys", () => {
    expectError(
      v2((c) => both(c, "vocab_size", 0)),
      "vocab_size",
      "positive integer",
      "(got 0)",
    );
    expectError(
      v2((c) => both(c, "num_hidden_layers", 2.5)),
      "num_hidden_layers",
      "(got 2.5)",
    );
    expectError(
      v2((c) => both(c, "num_attention_heads", -1)),
      "num_attention_heads",
    );
    expectError(
      v2((c) => both(c, "intermediate_size", null)),
      "intermediate_size",
    );
    expectError(
      v2((c) => both(c, "moe_intermediate_size", "896")),
      "moe_intermediate_size",
      '(got "896")',
    );
    expectError(
      v2((c) => both(c, "first_k_dense_replace", -1)),
      "first_k_dense_replace",
      "non-negative",
    );
    expectError(
      v2((c) => both(c, "n_routed_experts", 0)),
      "n_routed_experts",
    );
    expectError(
      v2((c) => both(c, "num_experts_per_tok", 0)),
      "num_experts_per_tok",
    );
    expectError(
      v2((c) => both(c, "max_position_embeddings", 0)),
      "max_position_embeddings",
    );
    expectError(
      v2((c) => both(c, "bos_token_id", -3)),
      "bos_token_id",
    );
    expectError(
      v2((c) => (c.rms_norm_eps = 0)),
      "rms_norm_eps",
      "positive number",
    );
    expectError(
      v2((c) => (c.rope_theta = "1e4")),
      "rope_theta",
    );
    expectError(
      v2((c) => (c.routed_scaling_factor = Number.NaN)),
      "routed_scaling_factor",
    );
    expectError(
      v2((c) => (c.norm_topk_prob = "false")),
      "norm_topk_prob",
      "true or false",
    );
    expectError(
      v2((c) => (c.attention_bias = 1)),
      "attention_bias",
    );
    expectError(
      v2((c) => both(c, "use_mla", "no")),
      "use_mla",
      "true or false",
    );
  });

  test("only under language_config: the error names language_config.<key>", () => {
    expectError(
      v2((c) => {
        delete c.hidden_size;
        lc(c).hidden_size = 0;
      }),
      "language_config.hidden_size",
    );
  });

  test("top-level and language_config disagree", () => {
    expectError(
      v2((c) => (lc(c).num_hidden_layers = 24)),
      "language_config.num_hidden_layers",
      "(24) disagrees with top-level num_hidden_layers (12)",
    );
  });

  test("LM consistency", () => {
    expectError(
      v2((c) => both(c, "num_attention_heads", 7)),
      "hidden_size",
      "divisible by num_attention_heads (7)",
    );
    expectError(
      v2((c) => {
        both(c, "hidden_size", 1270);
        both(c, "num_attention_heads", 10);
        (c.projector_config as Record<string, unknown>).n_embed = 1270;
      }),
      "num_attention_heads",
      "odd head_dim 127",
    );
    expectError(
      v2((c) => both(c, "num_key_value_heads", 3)),
      "num_key_value_heads",
      "must divide",
    );
    expectError(
      v2((c) => both(c, "num_experts_per_tok", 65)),
      "num_experts_per_tok",
      "<= n_routed_experts (64)",
    );
    expectError(
      v2((c) => both(c, "first_k_dense_replace", 13)),
      "first_k_dense_replace",
      "<= num_hidden_layers",
    );
    expectError(
      v2((c) => both(c, "eos_token_id", 129280)),
      "eos_token_id",
      "< vocab_size",
    );
    expectError(
      v2((c) => both(c, "vocab_size", 1000)),
      "vocab_size",
      "<image> token id 128815",
    );
    expectError(
      tiny("tiny-v2", (c) => both(c, "num_experts_per_tok", 17)),
      "num_experts_per_tok",
      "<= n_routed_experts (16)",
    );
  });

  test("unsupported variants", () => {
    expectError(
      v2((c) => both(c, "use_mla", true)),
      "use_mla",
      "not supported",
      "MLA",
    );
    expectError(
      v2((c) => both(c, "topk_method", "noaux_tc")),
      "topk_method",
      "greedy",
      '(got "noaux_tc")',
    );
    expectError(
      v2((c) => both(c, "topk_method", "group_limited_greedy")),
      "topk_method",
    );
    expectError(
      v2((c) => (c.scoring_func = "sigmoid")),
      "scoring_func",
      "softmax",
    );
    expectError(
      v2((c) => (c.rope_scaling = { type: "yarn", factor: 4 })),
      "rope_scaling",
      "not supported",
    );
    expectError(
      v2((c) => (c.hidden_act = "gelu")),
      "hidden_act",
    );
    expectError(
      v2((c) => (c.tie_word_embeddings = true)),
      "tie_word_embeddings",
      "tied",
    );
    expectError(
      v2((c) => ((c.projector_config as Record<string, unknown>).projector_type = "mlp_gelu")),
      "projector_config.projector_type",
    );
  });

  test("version detection", () => {
    expectError(
      v2((c) => {
        c.architectures = ["LlamaForCausalLM"];
        delete vc(c).model_name;
      }),
      "architectures",
      "DeepseekOCR2ForCausalLM",
    );
    expectError(
      v2((c) => {
        delete c.architectures;
        vc(c).model_name = "other";
      }),
      "architectures",
    );
    expectError(
      v2((c) => (c.architectures = "DeepseekOCR2ForCausalLM")),
      "architectures",
      "list of strings",
    );
    expectError(
      v2((c) => (c.architectures = [ARCH_V2, ARCH_V1])),
      "architectures",
      "both",
    );
    expectError(
      v2((c) => (vc(c).model_name = "deeplip_b_l")),
      "vision_config.model_name",
      "contradicts",
    );
    expectError(
      v2((c) => (vc(c).model_name = 2)),
      "vision_config.model_name",
      "string",
    );
  });

  test("section types", () => {
    expectError(
      v2((c) => (c.language_config = [])),
      "language_config",
      "object",
    );
    expectError(
      v2((c) => (c.vision_config = "x")),
      "vision_config",
      "object",
    );
    expectError(
      v2((c) => (c.projector_config = 5)),
      "projector_config",
      "object",
    );
  });

  test("SAM extension keys", () => {
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_embed_dim = 0)),
      "vision_config.sam_embed_dim",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_num_heads = 3)),
      "vision_config.sam_embed_dim",
      "divisible",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_depth = "4")),
      "vision_config.sam_depth",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_global_attn_indexes = [1, 4])),
      "vision_config.sam_global_attn_indexes",
      "block 4",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_global_attn_indexes = [1, 1])),
      "vision_config.sam_global_attn_indexes",
      "duplicate",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_global_attn_indexes = [-1])),
      "vision_config.sam_global_attn_indexes",
      "non-negative",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_downsample_channels = [32, 64, 128])),
      "vision_config.sam_downsample_channels",
      "exactly 2",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_downsample_channels = [32, 0])),
      "vision_config.sam_downsample_channels",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).sam_out_chans = 1.5)),
      "vision_config.sam_out_chans",
    );
    // real depth 12 with the tiny global indexes is fine; tiny depth with real indexes is not
    expectError(
      tiny("tiny-v2", (c) => delete vc(c).sam_global_attn_indexes),
      "vision_config.sam_global_attn_indexes",
      "sam_depth is 4",
    );
  });

  test("v2 Qwen2 keys and cross-checks", () => {
    expectError(
      tiny("tiny-v2", (c) => (vc(c).qwen2_hidden_size = 128)),
      "vision_config.sam_downsample_channels",
      "qwen2_hidden_size (128)",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).qwen2_num_attention_heads = 3)),
      "vision_config.qwen2_hidden_size",
      "divisible",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).qwen2_num_attention_heads = 64)),
      "vision_config.qwen2_num_attention_heads",
      "odd head_dim",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).qwen2_num_key_value_heads = 3)),
      "vision_config.qwen2_num_key_value_heads",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).qwen2_intermediate_size = -128)),
      "vision_config.qwen2_intermediate_size",
    );
    expectError(
      tiny("tiny-v2", (c) => (vc(c).clip_hidden_size = 64)),
      "vision_config.clip_hidden_size",
      "not valid",
    );
    expectError(
      tiny("tiny-v2", (c) => ((c.projector_config as Record<string, unknown>).input_dim = 896)),
      "projector_config.input_dim",
      "Qwen2 encoder width (64)",
    );
    expectError(
      tiny("tiny-v2", (c) => ((c.projector_config as Record<string, unknown>).n_embed = 1280)),
      "projector_config.n_embed",
      "hidden_size (32)",
    );
    // the real config's sam_vit_b entry must not leak into v2 sizes even when wrong
    assert.deepEqual(parseConfig(realV2()).sam.downsampleChannels, [512, 896]);
    // an explicit sam_downsample_channels [512, 1024] on real v2 contradicts the Qwen2 width
    expectError(
      v2((c) => (vc(c).sam_downsample_channels = [512, 1024])),
      "vision_config.sam_downsample_channels",
      "(1024)",
    );
  });

  test("v1 CLIP keys and cross-checks", () => {
    expectError(
      tiny("tiny-v1", (c) => (vc(c).clip_hidden_size = 128)),
      "vision_config.sam_downsample_channels",
      "clip_hidden_size (128)",
    );
    expectError(
      tiny("tiny-v1", (c) => (vc(c).clip_num_heads = 3)),
      "vision_config.clip_hidden_size",
      "divisible",
    );
    expectError(
      tiny("tiny-v1", (c) => (vc(c).clip_num_layers = 0)),
      "vision_config.clip_num_layers",
    );
    expectError(
      tiny("tiny-v1", (c) => (vc(c).clip_ffn_hidden_size = "x")),
      "vision_config.clip_ffn_hidden_size",
    );
    expectError(
      tiny("tiny-v1", (c) => (vc(c).qwen2_hidden_size = 64)),
      "vision_config.qwen2_hidden_size",
      "not valid",
    );
    expectError(
      tiny("tiny-v1", (c) => ((c.projector_config as Record<string, unknown>).input_dim = 64)),
      "projector_config.input_dim",
      "CLIP width + SAM net_3 channels (128)",
    );
    expectError(
      (() => {
        const c = realV1();
        (c.projector_config as Record<string, unknown>).input_dim = 896;
        return c;
      })(),
      "projector_config.input_dim",
      "(2048)",
    );
  });

  test("torch_dtype", () => {
    assert.equal(parseConfig(v2((c) => both(c, "torch_dtype", "float32"))).torchDtype, "float32");
    expectError(
      v2((c) => both(c, "torch_dtype", "float64")),
      "torch_dtype",
    );
    expectError(
      v2((c) => both(c, "torch_dtype", 16)),
      "torch_dtype",
      "string",
    );
  });
});
