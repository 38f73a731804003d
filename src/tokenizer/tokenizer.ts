/**
 * The DeepSeek-OCR / DeepSeek-OCR 2 tokenizer (spec 4.3, 4.5): byte-level BPE with added tokens,
 * run by `@huggingface/tokenizers` (pure JS). Results equal the Rust `tokenizers` library (what
 * Python transformers' LlamaTokenizerFast runs) on every case of
 * ../shared/tokenizer/golden_ids.json.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { buildTokenizerObject, type TokenizerJson } from "./build.ts";
import { BOS_ID, BOS_TOKEN, EOS_ID, EOS_TOKEN, IMAGE_TOKEN, IMAGE_TOKEN_ID, PAD_TOKEN } from "./special.ts";

/** Options of {@link DeepSeekTokenizer.encode}. */
export interface EncodeOptions {
  /**
   * Prepend BOS (id 0) through the tokenizer.json post-processor. Default **false**, which equals
   * Python `tokenizer.encode(text, add_special_tokens=False)`, what the official OCR code calls
   * before it prepends BOS by hand (spec 4.3). (Python's own default is true.)
   */
  addBos?: boolean;
}

/** Options of {@link DeepSeekTokenizer.decode}. */
export interface DecodeOptions {
  /**
   * Drop tokens flagged `special: true` (BOS/EOS/PAD, place holders, `<image>`, grounding tags,
   * `<td>`, `</td>`, `<tr>`, `</tr>` …). Default **false**, as the official code decodes (spec 4.5).
   */
  skipSpecialTokens?: boolean;
}

/** A tokenizer file (tokenizer.json or tokenizer_config.json) that cannot be read or used. */
export class TokenizerError extends Error {
  /** The offending file (absolute or as given), or the checkpoint directory. */
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "TokenizerError";
    this.file = file;
  }
}

/**
 * tokenizer_config.json settings used when a checkpoint has none: the keys of the official file
 * that matter to the JS tokenizer. `clean_up_tokenization_spaces` must be false (the JS library
 * defaults it to true, which changes decoded text).
 */
export const DEFAULT_TOKENIZER_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  add_bos_token: true,
  add_eos_token: false,
  additional_special_tokens: ["<|User|>", "<|Assistant|>"],
  bos_token: BOS_TOKEN,
  eos_token: EOS_TOKEN,
  pad_token: PAD_TOKEN,
  unk_token: null,
  clean_up_tokenization_spaces: false,
  legacy: true,
  tokenizer_class: "LlamaTokenizerFast",
});

let builtinData: TokenizerJson | undefined;

/** The in-memory build, parsed once per process (the JS tokenizer does not modify it). */
function builtinTokenizerData(): TokenizerJson {
  builtinData ??= buildTokenizerObject();
  return builtinData;
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new TokenizerError(file, `cannot read ${what}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(file, `corrupt ${what} (invalid JSON): ${(err as Error).message}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * DeepSeek-OCR tokenizer. Construct with {@link DeepSeekTokenizer.load} (a checkpoint directory),
 * {@link DeepSeekTokenizer.builtin} (the in-memory build) or {@link DeepSeekTokenizer.fromJson}.
 */
export class DeepSeekTokenizer {
  /** Where the vocabulary came from: a tokenizer.json path, or `"builtin"` (in-memory build). */
  readonly source: string;
  private readonly tok: Tokenizer;

  private constructor(tok: Tokenizer, source: string) {
    this.tok = tok;
    this.source = source;
  }

  /**
   * Loads the tokenizer of a checkpoint directory. Uses `<dir>/tokenizer.json` when present,
   * otherwise the in-memory build of the official file ({@link buildTokenizerObject}; the
   * fixture models have no tokenizer.json). `<dir>/tokenizer_config.json` is used when present,
   * else {@link DEFAULT_TOKENIZER_CONFIG}. Decoding always uses
   * `clean_up_tokenization_spaces = false`.
   *
   * @param checkpointDir model directory.
   * @throws TokenizerError naming the file when the directory is missing, a file is unreadable or
   *   not valid JSON, the tokenizer cannot be built from it, or it lacks `<image>` = 128815,
   *   BOS = 0 or EOS = 1.
   */
  static load(checkpointDir: string): DeepSeekTokenizer {
    if (!existsSync(checkpointDir) || !statSync(checkpointDir).isDirectory()) {
      throw new TokenizerError(checkpointDir, "checkpoint directory not found");
    }
    const configFile = join(checkpointDir, "tokenizer_config.json");
    let config: Record<string, unknown> = { ...DEFAULT_TOKENIZER_CONFIG };
    if (existsSync(configFile)) {
      const parsed = readJsonFile(configFile, "tokenizer_config.json");
      if (!isPlainObject(parsed)) throw new TokenizerError(configFile, "tokenizer_config.json is not a JSON object");
      config = parsed;
    }
    const tokenizerFile = join(checkpointDir, "tokenizer.json");
    if (existsSync(tokenizerFile)) {
      const json = readJsonFile(tokenizerFile, "tokenizer.json");
      return DeepSeekTokenizer.fromJson(json, config, tokenizerFile);
    }
    return DeepSeekTokenizer.fromJson(builtinTokenizerData(), config, "builtin");
  }

  /**
   * The official tokenizer assembled in memory (no files needed), with
   * {@link DEFAULT_TOKENIZER_CONFIG} or the given config. The first call in a process takes
   * about a second.
   */
  static builtin(config: Record<string, unknown> = { ...DEFAULT_TOKENIZER_CONFIG }): DeepSeekTokenizer {
    return DeepSeekTokenizer.fromJson(builtinTokenizerData(), config, "builtin");
  }

  /**
   * Builds from a parsed tokenizer.json object (or its text) and a tokenizer_config object.
   *
   * @param source name used in errors and in {@link DeepSeekTokenizer.source}.
   * @throws TokenizerError naming `source` when the data is not a usable tokenizer or lacks the
   *   DeepSeek-OCR ids checked by {@link DeepSeekTokenizer.load}.
   */
  static fromJson(
    json: unknown,
    config: Record<string, unknown> = { ...DEFAULT_TOKENIZER_CONFIG },
    source = "tokenizer.json",
  ): DeepSeekTokenizer {
    if (typeof json === "string") {
      try {
        json = JSON.parse(json);
      } catch (err) {
        throw new TokenizerError(source, `corrupt tokenizer.json (invalid JSON): ${(err as Error).message}`);
      }
    }
    if (!isPlainObject(json) || !isPlainObject(json.model) || !Array.isArray(json.added_tokens)) {
      throw new TokenizerError(source, "corrupt tokenizer.json: expected an object with `model` and `added_tokens`");
    }
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, { ...config, clean_up_tokenization_spaces: false });
    } catch (err) {
      throw new TokenizerError(source, `corrupt tokenizer.json: ${(err as Error).message}`);
    }
    const t = new DeepSeekTokenizer(tok, source);
    const checks: [string, number][] = [
      [IMAGE_TOKEN, IMAGE_TOKEN_ID],
      [BOS_TOKEN, BOS_ID],
      [EOS_TOKEN, EOS_ID],
    ];
    for (const [token, id] of checks) {
      const got = t.tokenToId(token);
      if (got !== id) {
        throw new TokenizerError(source, `not a DeepSeek-OCR tokenizer: ${token} has id ${got}, expected ${id}`);
      }
    }
    return t;
  }

  /**
   * Text to token ids. Added tokens written in the text (`<image>`, `<td>`, `<|grounding|>`, BOS …)
   * are always matched as single tokens.
   *
   * @param text any string ("" gives [] without BOS, [0] with).
   * @returns ids in 0..128826.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: options.addBos ?? false }).ids;
  }

  /**
   * Token ids to text, with `clean_up_tokenization_spaces = false` (spec 4.5). Partial or invalid
   * UTF-8 becomes U+FFFD, one per maximal invalid subsequence. Ids without a token
   * (128827..129279, the model's extra embedding rows) are dropped, as the Rust library does.
   * An empty list gives "" (the JS library would throw).
   *
   * @param ids non-negative integer ids (any array-like, e.g. Int32Array).
   * @throws RangeError if an id is not a non-negative integer.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    const list = Array.from(ids);
    for (const id of list) {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`decode: invalid token id ${id}`);
    }
    return this.tok.decode(list, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  /** The id of a token string (vocabulary or added token), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** The token string of an id (byte-level form, e.g. `Ġthe`), or undefined. */
  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** Whether `id` is an added token flagged `special: true` (what `skipSpecialTokens` removes). */
  isSpecialId(id: number): boolean {
    return this.specialIds().has(id);
  }

  private specialIdSet: Set<number> | undefined;
  private specialIds(): Set<number> {
    if (!this.specialIdSet) {
      this.specialIdSet = new Set();
      for (const [id, t] of this.tok.get_added_tokens_decoder()) if (t.special) this.specialIdSet.add(id);
    }
    return this.specialIdSet;
  }
}
