/**
 * Typed model configuration, parsed from a checkpoint's config.json (spec 2.2) plus the
 * `vision_config` extension keys of ../shared/spec/config-extension.md. Absent keys take the
 * real model's values, so a real checkpoint and the tiny fixture models run the same code.
 */

/** SAM ViT-B image encoder (spec 5.1). */
export interface SamConfig {
  /** 768 real. */
  embedDim: number;
  /** 12 real. */
  depth: number;
  /** 12 real; head_dim = embedDim / numHeads. */
  numHeads: number;
  /** [2, 5, 8, 11] real. */
  globalAttnIndexes: number[];
  /** Neck channels, 256 real. */
  outChans: number;
  /** net_2 / net_3 output channels: v2 [512, 896], v1 [512, 1024]. */
  downsampleChannels: [number, number];
  /** Fixed: 16. */
  patchSize: number;
  /** Fixed: 1024 (pos-embed grid 64x64). */
  imgSize: number;
  /** Fixed: 14. */
  windowSize: number;
  /** Fixed: 4. */
  mlpRatio: number;
  /** Fixed: 1e-6 (LayerNorm and LayerNorm2d). */
  layerNormEps: number;
}

/** Qwen2 decoder-as-encoder of DeepSeek-OCR 2 (spec 5.2). */
export interface Qwen2EncoderConfig {
  hiddenSize: number; // 896
  numHiddenLayers: number; // 24
  numAttentionHeads: number; // 14
  numKeyValueHeads: number; // 2
  intermediateSize: number; // 4864
  rmsNormEps: number; // 1e-6
  ropeTheta: number; // 1e6
}

/** CLIP-L of DeepSeek-OCR v1 (spec 7.3). */
export interface ClipConfig {
  hiddenSize: number; // 1024
  numLayers: number; // 24
  numHeads: number; // 16
  ffnHiddenSize: number; // 4096
  layerNormEps: number; // 1e-5
  /** Fixed: 257 position rows (1 class + 16x16). */
  numPositions: number;
}

/** Linear projector (spec 5.3 / 7.4). */
export interface ProjectorConfig {
  inputDim: number; // v2 896, v1 2048
  nEmbed: number; // 1280
  projectorType: "linear";
}

/** DeepSeek-MoE language model (spec 2.2, 6). */
export interface LanguageConfig {
  vocabSize: number; // 129280
  hiddenSize: number; // 1280
  numHiddenLayers: number; // 12
  numAttentionHeads: number; // 10
  numKeyValueHeads: number; // 10
  intermediateSize: number; // 6848 (dense MLP)
  moeIntermediateSize: number; // 896 (each routed expert; shared width = this * nSharedExperts)
  firstKDenseReplace: number; // 1
  moeLayerFreq: number; // 1
  nRoutedExperts: number; // 64
  nSharedExperts: number; // 2
  numExpertsPerTok: number; // 6
  topkMethod: "greedy";
  scoringFunc: "softmax";
  normTopkProb: boolean; // false
  routedScalingFactor: number; // 1.0
  rmsNormEps: number; // 1e-6
  ropeTheta: number; // 10000
  maxPositionEmbeddings: number; // 8192
  attentionBias: boolean; // false
  useMla: false;
  bosTokenId: number; // 0
  eosTokenId: number; // 1
}

/** The whole model. */
export interface ModelConfig {
  /** "v2" = DeepseekOCR2ForCausalLM (SAM + Qwen2 encoder), "v1" = DeepseekOCRForCausalLM (SAM + CLIP-L). */
  version: "v1" | "v2";
  architecture: string;
  sam: SamConfig;
  /** Present for v2. */
  qwen2?: Qwen2EncoderConfig;
  /** Present for v1. */
  clip?: ClipConfig;
  projector: ProjectorConfig;
  language: LanguageConfig;
  /** `<image>` placeholder id, 128815. */
  imageTokenId: number;
  /** Weights dtype declared by `torch_dtype`. */
  torchDtype: string;
  /** The parsed JSON as read. */
  raw: Record<string, unknown>;
}
