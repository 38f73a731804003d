/**
 * When generation stops, and the official clean-up of the decoded text (spec 8.1, 8.2, 9.2).
 */
import { EOS_ID, EOS_TOKEN } from "../tokenizer/special.ts";
import { pythonStrip } from "./prompts.ts";

/** Why generation ended. */
export type StopReason = "eos" | "max-new-tokens" | "max-length";

/** Stop settings. */
export interface StopOptions {
  /** Stop ids (default `[1]`, EOS, the official stop). The stop id counts as generated. */
  eosIds?: Iterable<number>;
  /** Limit of generated ids (default 8192, `max_new_tokens` / `max_tokens` of the official runs). */
  maxNewTokens?: number;
  /**
   * Limit of prompt + generated ids (vLLM `max_model_len`, 8192 in the official scripts);
   * default none (HF `infer()` has no such limit).
   */
  maxTotalTokens?: number;
}

/**
 * Stop check for one sequence. Call {@link StopCondition.check} after each generated id.
 */
export class StopCondition {
  private readonly eos: Set<number>;
  private readonly maxNew: number;
  private readonly maxTotal: number;
  private readonly promptLength: number;

  /**
   * @param options stop settings.
   * @param promptLength number of prompt ids (BOS and image tokens included), for `maxTotalTokens`.
   * @throws RangeError for a limit that is not a positive integer.
   */
  constructor(options: StopOptions = {}, promptLength = 0) {
    this.eos = new Set(options.eosIds ?? [EOS_ID]);
    this.maxNew = options.maxNewTokens ?? 8192;
    this.maxTotal = options.maxTotalTokens ?? Number.POSITIVE_INFINITY;
    if (!Number.isInteger(this.maxNew) || this.maxNew <= 0) {
      throw new RangeError(`maxNewTokens must be a positive integer, got ${this.maxNew}`);
    }
    if (this.maxTotal !== Number.POSITIVE_INFINITY && (!Number.isInteger(this.maxTotal) || this.maxTotal <= 0)) {
      throw new RangeError(`maxTotalTokens must be a positive integer, got ${this.maxTotal}`);
    }
    this.promptLength = promptLength;
  }

  /** Whether `id` is a stop id. */
  isEos(id: number): boolean {
    return this.eos.has(id);
  }

  /**
   * @param lastId the id just generated.
   * @param generatedCount ids generated so far, `lastId` included.
   * @returns the reason to stop now, or null to continue. EOS wins over the length limits.
   */
  check(lastId: number, generatedCount: number): StopReason | null {
    if (this.eos.has(lastId)) return "eos";
    if (generatedCount >= this.maxNew) return "max-new-tokens";
    if (this.promptLength + generatedCount >= this.maxTotal) return "max-length";
    return null;
  }
}

/**
 * Removes one trailing `<｜end▁of▁sentence｜>` from decoded text.
 *
 * @returns the text without it, and whether it was there (the PDF script drops pages where it
 *   is missing when `SKIP_REPEAT` is on, spec 9.2).
 */
export function stripTrailingEos(text: string): { text: string; hadEos: boolean } {
  if (text.endsWith(EOS_TOKEN)) return { text: text.slice(0, -EOS_TOKEN.length), hadEos: true };
  return { text, hadEos: false };
}

/**
 * HF `infer()` output clean-up (spec 8.1): cut a trailing `<｜end▁of▁sentence｜>`, then Python
 * `str.strip()`.
 */
export function finalizeHfOutput(text: string): string {
  return pythonStrip(stripTrailingEos(text).text);
}
