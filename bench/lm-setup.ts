/**
 * What the decode profiling scripts share: `--name value` options and the real-size language
 * model loaded with the native kernels.
 */
import { openCheckpoint } from "../src/checkpoint/safetensors.ts";
import { loadConfig } from "../src/config/config.ts";
import type { ModelConfig } from "../src/config/types.ts";
import { createNativeKernels } from "../src/kernels/native.ts";
import type { Kernels, Precision } from "../src/kernels/types.ts";
import { LanguageModel } from "../src/model/language-model.ts";

/** `opt(name, default)`: the value after `--name` in `args`, or the default. */
export function options(args: string[]): (name: string, def: string) => string {
  return (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
  };
}

/**
 * Loads the language model of the checkpoint in `dir` (config.json + safetensors) for `precision`.
 * @throws ConfigError / CheckpointError naming the file
 */
export function loadLanguageModel(
  dir: string,
  precision: Precision,
): { k: Kernels; lm: LanguageModel; cfg: ModelConfig } {
  const k = createNativeKernels();
  const cfg = loadConfig(dir);
  const ckpt = openCheckpoint(dir);
  try {
    return { k, lm: LanguageModel.load({ ckpt, k, precision, role: "lm" }, cfg.language), cfg };
  } finally {
    ckpt.close();
  }
}
