/**
 * Options of one OCR run, shared by the CLI and the library: prompt, views, decoding.
 * Defaults follow the official DeepSeek-OCR 2 PDF script (spec 8.2, 9.2).
 */

/** How the n-gram repetition guard works (spec 8). */
export interface NgramOptions {
  /** n-gram length; 0 disables the guard. Official default 20. */
  size: number;
  /**
   * `number`: only the last `window` generated ids are searched, `<td>`/`</td>` whitelisted
   * (official vLLM scripts; PDF 50). `"all"`: the whole sequence, prompt included, no whitelist
   * (HF `infer()`).
   */
  window: number | "all";
}

/** Sampling instead of greedy decoding (off by default: greedy, as every official script). */
export interface SamplingOptions {
  temperature: number;
  topP: number;
  seed: number;
}

/** Per-page recognition options. */
export interface PageOptions {
  /** Prompt preset (`document`, `free`, `figure`, `describe`, `locate:<text>`) or custom text with `<image>`. */
  prompt: string;
  /** 0 = global view only (crop_mode off); 2..6 = crop_mode with up to that many 768-px tiles. Default 6. */
  maxTiles: number;
  /** Upper bound on generated tokens (also capped so prompt + output <= max_position_embeddings). */
  maxTokens: number;
  ngram: NgramOptions;
  /** Greedy when absent. */
  sampling?: SamplingOptions;
}

/** The official PDF script's settings: grounding prompt, up to 6 tiles, n-gram 20 in a window of 50. */
export const DEFAULT_PAGE_OPTIONS: PageOptions = {
  prompt: "document",
  maxTiles: 6,
  maxTokens: 8192,
  ngram: { size: 20, window: 50 },
};

/** Rendering resolution of PDF pages, dots per inch (official script: 144). */
export const DEFAULT_DPI = 144;

/**
 * The guard of the one retry of a page that reached the token limit without EOS (usually a
 * repetition loop): half the n-gram length (at least 5) over a twice as long window; the official
 * guard (20 in a window of 50) when the guard was off.
 */
export function stricterNgram(ngram: NgramOptions): NgramOptions {
  if (ngram.size <= 0) return { size: 20, window: 50 };
  return {
    size: Math.max(5, Math.floor(ngram.size / 2)),
    window: ngram.window === "all" ? "all" : Math.max(ngram.window * 2, 100),
  };
}

/**
 * Page options as the CLI and the library take them, flat; anything left out gets the
 * default of {@link DEFAULT_PAGE_OPTIONS}.
 */
export interface PageFlags {
  /** `document` (default), `free`, `figure`, `describe`, `locate:<text>`, or custom text with `<image>`. */
  prompt?: string;
  /** 0 = global 1024-px view only; 2..6 = up to that many 768-px tiles (default 6). */
  maxTiles?: number;
  /** Most generated tokens (default 8192). */
  maxTokens?: number;
  /** n-gram repetition guard length, 0 = off (default 20). */
  ngramSize?: number;
  /** Guard window in generated ids, or `all` ids including the prompt (default 50). */
  ngramWindow?: number | "all";
  /** Sample with this temperature (default: greedy). */
  temperature?: number;
  /** Nucleus mass with `temperature` (default 1). */
  topP?: number;
  /** Sampling seed (default 0). */
  seed?: number;
}

/** The engine's page options for {@link PageFlags} (defaults: the official PDF script). */
export function pageOptions(o: PageFlags = {}): PageOptions {
  const d = DEFAULT_PAGE_OPTIONS;
  return {
    prompt: o.prompt ?? d.prompt,
    maxTiles: o.maxTiles ?? d.maxTiles,
    maxTokens: o.maxTokens ?? d.maxTokens,
    ngram: { size: o.ngramSize ?? d.ngram.size, window: o.ngramWindow ?? d.ngram.window },
    sampling:
      o.temperature && o.temperature > 0
        ? { temperature: o.temperature, topP: o.topP ?? 1, seed: o.seed ?? 0 }
        : undefined,
  };
}
