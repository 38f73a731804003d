/**
 * Random-weight checkpoint generator: writes a checkpoint directory with the real tensor names and
 * shapes (../shared/spec/tensor-names.md, derived from the config so tiny and full size are the same code),
 * BF16 values from a seeded PRNG, the config.json, and the tokenizer / processor files. Used for demos,
 * benchmarks and tests when the real weights are not available.
 *
 * Streams tensor by tensor in fixed-size chunks: the full-size preset (6.78 GB) is written without ever
 * holding more than one chunk of values in memory.
 *
 * Value recipe (the fixtures README's, with a uniform distribution of the same variance instead of a normal):
 * linear/conv weights std 1/sqrt(fan_in); biases std 0.02; norm weights 1 + 0.1 noise, norm biases std 0.05;
 * `pos_embed`, `rel_pos_*`, CLIP `position_embedding` std 0.2; `embed_tokens`, `query_768`, `query_1024`,
 * `view_seperator`, `image_newline`, CLIP `class_embedding`, `lm_head` std 1; MoE router `mlp.gate.weight`
 * std 3/sqrt(hidden). Values are rounded to bf16 (round to nearest even).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../config/config.ts";
import type { ModelConfig } from "../config/types.ts";
import { writeFileAtomicSync } from "../util/atomic.ts";
import { Xoshiro128 } from "../util/xoshiro.ts";
import { DTYPE_SIZE, numel } from "./dtype.ts";
import { INDEX_FILE, SINGLE_FILE } from "./safetensors.ts";
import { type CheckpointTensor, checkpointTensors } from "./tensor-names.ts";
import { referenceOrder, type TensorSpec, writeSafetensorsStreaming, writeShardedSafetensors } from "./writer.ts";

/** Built-in configurations: the tiny fixture model and the real DeepSeek-OCR 2. */
export type RandomPreset = "tiny-v2" | "full-v2";

/** Default largest shard (bytes of tensor data): under 4 GiB, so each file fits any file system. */
export const DEFAULT_MAX_SHARD_BYTES = 4_000_000_000;

/** Options of {@link makeRandomCheckpoint}. */
export interface MakeRandomOptions {
  /**
   * Built-in config: "tiny-v2" (the tiny fixture model, 17.5 MB) or "full-v2" (the real DeepSeek-OCR 2,
   * 6.78 GB). Default "tiny-v2". Ignored when `config` is given.
   */
  preset?: RandomPreset;
  /** Path of a config.json (or of a directory holding one) to use instead of the preset (v1 or v2). */
  config?: string;
  /** Output directory (created if needed). Existing `model*.safetensors` / index files in it are replaced. */
  out: string;
  /** PRNG seed (integer). Same seed and config give byte-identical files. Default 0. */
  seed?: number;
  /** Shard when the data exceeds this many bytes (default {@link DEFAULT_MAX_SHARD_BYTES}). */
  maxShardBytes?: number;
  /** Write `model-0000i-of-0000n.safetensors` + index even when everything fits one file. */
  forceSharded?: boolean;
  /** Write tokenizer.json through `src/tokenizer/build.ts` when that module exists. Default true. */
  tokenizer?: boolean;
  /** Progress callback: tensor data bytes written so far and in total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** What {@link makeRandomCheckpoint} wrote. */
export interface MakeRandomResult {
  /** Absolute output directory. */
  dir: string;
  /** The parsed config that was written. */
  config: ModelConfig;
  /** Names of the files written in `dir`. */
  files: string[];
  /** Number of tensors. */
  tensorCount: number;
  /** Bytes of tensor data (the index's total_size). */
  totalBytes: number;
  /** Whether tokenizer.json was written. */
  tokenizerJson: boolean;
  /** Notes, e.g. why tokenizer.json is missing. */
  notes: string[];
}

const PRESET_DIR = fileURLToPath(new URL("./presets/", import.meta.url));
const ASSETS = fileURLToPath(new URL("../../assets/", import.meta.url));
const TOKENIZER_BUILD = new URL("../tokenizer/build.ts", import.meta.url);

/** Elements generated per chunk (4 MB of f32 scratch + 2 MB of bf16). */
const CHUNK = 1 << 20;

/**
 * Path of a preset's config.json data file (`src/checkpoint/presets/<preset>.json`).
 * @throws Error for an unknown preset
 */
export function presetConfigPath(preset: RandomPreset): string {
  if (preset !== "tiny-v2" && preset !== "full-v2") throw new Error(`unknown preset ${JSON.stringify(preset)}`);
  return join(PRESET_DIR, `${preset}.json`);
}

/**
 * The parsed config of a preset.
 * @throws Error for an unknown preset; ConfigError if the data file is invalid
 */
export function presetConfig(preset: RandomPreset): ModelConfig {
  const file = presetConfigPath(preset);
  return parseConfig(readFileSync(file, "utf8"), file);
}

/** Mean and standard deviation of a tensor's random values (recipe in the module doc). */
export function initStats(name: string, shape: readonly number[], cfg: ModelConfig): { mean: number; std: number } {
  if (/^model\.layers\.\d+\.mlp\.gate\.weight$/.test(name)) {
    return { mean: 0, std: 3 / Math.sqrt(cfg.language.hiddenSize) };
  }
  if (/(?:^|\.)(?:pos_embed|rel_pos_h|rel_pos_w)$/.test(name) || name.endsWith("position_embedding.weight")) {
    return { mean: 0, std: 0.2 };
  }
  if (
    /(?:^|\.)(?:embed_tokens\.weight|query_768\.weight|query_1024\.weight|view_seperator|image_newline|class_embedding)$/.test(
      name,
    ) ||
    name === "lm_head.weight"
  ) {
    return { mean: 0, std: 1 };
  }
  const norm =
    /(?:^|\.)(?:norm\d*|input_layernorm|post_attention_layernorm|layer_norm\d+|pre_layrnorm|neck\.[13])\.(weight|bias)$/.exec(
      name,
    );
  if (norm) return norm[1] === "weight" ? { mean: 1, std: 0.1 } : { mean: 0, std: 0.05 };
  if (name.endsWith(".bias")) return { mean: 0, std: 0.02 };
  if (shape.length >= 2) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    return { mean: 0, std: 1 / Math.sqrt(fanIn) };
  }
  return { mean: 0, std: 0.02 };
}

/**
 * The per-tensor random stream of make-random: {@link Xoshiro128} seeded from a string, bulk-filling
 * bf16 values. Deterministic across platforms.
 */
export class WeightRandom extends Xoshiro128 {
  /** Seeds from a string (hashed with cyrb128). */
  constructor(seed: string) {
    const r = Xoshiro128.fromString(seed);
    super([r.s0, r.s1, r.s2, r.s3]);
  }

  /**
   * Fills `out` with bf16 bit patterns of `mean + std * u`, u uniform on [-sqrt(3), sqrt(3)) (variance 1),
   * rounded f64 -> f32 -> bf16 (round to nearest even).
   * @param out destination, any length
   * @param scratch f32 scratch of length >= out.length
   */
  fillBf16(out: Uint16Array, mean: number, std: number, scratch: Float32Array): void {
    const n = out.length;
    const bits = new Uint32Array(scratch.buffer, scratch.byteOffset, n);
    const a = 2 * Math.sqrt(3) * std * 2 ** -24;
    const b = mean - Math.sqrt(3) * std;
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (let i = 0; i < n; i++) {
      const x = Math.imul(s1, 5);
      const r = Math.imul((x << 7) | (x >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      scratch[i] = (r >>> 8) * a + b;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    for (let i = 0; i < n; i++) {
      const v = bits[i];
      out[i] = (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
    }
  }
}

/**
 * Streams the random bf16 values of one tensor in chunks to `write`.
 * @param t tensor (dtype must be BF16)
 * @param cfg config (for the router scale)
 * @param seed global seed
 * @param write receives consecutive chunks (the buffer is reused after the call returns)
 */
export function generateTensor(
  t: CheckpointTensor | TensorSpec,
  cfg: ModelConfig,
  seed: number,
  write: (chunk: Uint16Array) => void,
): void {
  if (t.dtype !== "BF16") throw new Error(`generateTensor: ${t.name} is ${t.dtype}, only BF16 is generated`);
  const { mean, std } = initStats(t.name, t.shape, cfg);
  const rng = new WeightRandom(`dsocr-random:${seed}:${t.name}`);
  const total = numel(t.shape);
  const size = Math.min(CHUNK, Math.max(total, 1));
  const scratch = new Float32Array(size);
  const out = new Uint16Array(size);
  for (let done = 0; done < total; done += size) {
    const n = Math.min(size, total - done);
    const o = n === size ? out : out.subarray(0, n);
    rng.fillBf16(o, mean, std, scratch);
    write(o);
  }
}

/** Removes checkpoint weight files a previous run may have left in `dir`. */
function removeStaleWeights(dir: string): void {
  for (const f of readdirSync(dir)) {
    if (f === SINGLE_FILE || f === INDEX_FILE || /^model-\d+-of-\d+\.safetensors$/.test(f)) {
      rmSync(join(dir, f), { force: true });
    }
  }
}

/**
 * Writes a random-weight checkpoint directory:
 * `config.json` (the preset in Hugging Face layout, or the given file's bytes), `model.safetensors` (or, above `maxShardBytes`,
 * `model-0000i-of-0000n.safetensors` + `model.safetensors.index.json`), all tensors BF16 with the real names
 * and shapes ({@link checkpointTensors}), plus `tokenizer_config.json`, `special_tokens_map.json`,
 * `processor_config.json` (official files from `assets/`) and `tokenizer.json` (from
 * `src/tokenizer/build.ts` `buildTokenizerJson()` when that module exists).
 *
 * Deterministic: every tensor has its own PRNG stream seeded from (seed, name), so the same seed gives
 * the same bytes whatever the shard layout. Memory stays at a few MB (chunked streaming).
 *
 * @throws ConfigError for an invalid `config`; Error for an unknown preset; CheckpointError / fs errors on write
 */
export async function makeRandomCheckpoint(opts: MakeRandomOptions): Promise<MakeRandomResult> {
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer (got ${seed})`);
  let configFile: string;
  if (opts.config !== undefined) {
    configFile = resolve(opts.config);
    if (existsSync(configFile) && statSync(configFile).isDirectory()) configFile = join(configFile, "config.json");
  } else {
    configFile = presetConfigPath(opts.preset ?? "tiny-v2");
  }
  let configText: string;
  try {
    configText = readFileSync(configFile, "utf8");
  } catch (e) {
    throw new Error(`${configFile}: cannot read config (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const cfg = parseConfig(configText, configFile);
  // Presets are stored formatted by the linter; write them in the Hugging Face layout (json indent 2,
  // which for tiny-v2 reproduces the fixture's config.json byte for byte). A given file is copied verbatim.
  if (opts.config === undefined) configText = JSON.stringify(cfg.raw, null, 2);

  const dir = resolve(opts.out);
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const notes: string[] = [];

  // Small files first (a broken tokenizer build fails before gigabytes are written).
  let tokenizerJson = false;
  if (opts.tokenizer !== false) {
    if (existsSync(fileURLToPath(TOKENIZER_BUILD))) {
      const mod = (await import(TOKENIZER_BUILD.href)) as { buildTokenizerJson?: () => string };
      if (typeof mod.buildTokenizerJson === "function") {
        writeFileAtomicSync(join(dir, "tokenizer.json"), mod.buildTokenizerJson());
        files.push("tokenizer.json");
        tokenizerJson = true;
      } else {
        notes.push("src/tokenizer/build.ts has no buildTokenizerJson(); tokenizer.json not written");
      }
    } else {
      // TODO(tokenizer): src/tokenizer/build.ts (buildTokenizerJson) is not available yet; tokenizer.json not written.
      notes.push("src/tokenizer/build.ts not found; tokenizer.json not written");
    }
  }
  for (const [src, name] of [
    [join(ASSETS, "tokenizer", "tokenizer_config.json"), "tokenizer_config.json"],
    [join(ASSETS, "tokenizer", "special_tokens_map.json"), "special_tokens_map.json"],
    [join(ASSETS, "processor_config.json"), "processor_config.json"],
  ] as const) {
    copyFileSync(src, join(dir, name));
    files.push(name);
  }

  const tensors = checkpointTensors(cfg, "BF16");
  const totalBytes = tensors.reduce((a, t) => a + numel(t.shape) * DTYPE_SIZE[t.dtype], 0);
  const maxShard = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  let done = 0;
  opts.onProgress?.(0, totalBytes);
  const produce = (s: TensorSpec, write: (chunk: Uint16Array) => void): undefined => {
    generateTensor(s, cfg, seed, (chunk) => {
      write(chunk);
      done += chunk.byteLength;
    });
    opts.onProgress?.(done, totalBytes);
  };

  removeStaleWeights(dir);
  const metadata = { format: "pt" };
  if (!opts.forceSharded && totalBytes <= maxShard) {
    writeSafetensorsStreaming(join(dir, SINGLE_FILE), referenceOrder(tensors), produce, metadata);
    files.push(SINGLE_FILE);
  } else {
    const r = writeShardedSafetensors(dir, tensors, produce, { maxShardBytes: maxShard, metadata });
    files.push(...r.shards.map((f) => f.slice(dir.length + 1)), INDEX_FILE);
  }
  // config.json last: a directory with a config.json is a complete checkpoint.
  writeFileAtomicSync(join(dir, "config.json"), configText);
  files.push("config.json");

  return { dir, config: cfg, files, tensorCount: tensors.length, totalBytes, tokenizerJson, notes };
}
