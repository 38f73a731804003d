/**
 * The decoding loop (spec 8): from the prefill logits, choose a token (greedy argmax, or
 * sampling), apply the n-gram repetition guard first, feed it back, stop on EOS or the length
 * limit. Model-agnostic: the caller supplies `step(id) -> logits`.
 */
import { EOS_ID, NGRAM_WHITELIST_IDS } from "../tokenizer/special.ts";
import { NgramGuard } from "./ngram.ts";
import { TokenSampler } from "./sampling.ts";
import { StopCondition, type StopReason } from "./stop.ts";

/** Settings of one generation. */
export interface GenerateOptions {
  /** Most ids to generate (the stop id included). */
  maxNewTokens: number;
  /** Limit of prompt + generated ids (the model's max_position_embeddings). */
  maxTotalTokens?: number;
  /** n-gram guard: size (0 = off) and window (`"all"` = whole sequence incl. the prompt, no whitelist). */
  ngram: { size: number; window: number | "all" };
  /** Greedy when absent or temperature 0. */
  sampling?: { temperature: number; topP: number; seed: number };
  eosTokenId?: number;
  /** Called after each generated id. */
  onToken?: (id: number, step: number) => void;
  /** Checked before each decode step. */
  signal?: AbortSignal;
}

/** Per-step diagnostics. */
export interface StepInfo {
  token: number;
  /** top1 − top2 of the allowed logits (greedy confidence). */
  margin: number;
  /** Ids the n-gram guard banned at this step. */
  banned: number;
}

/** What came out. */
export interface GenerateResult {
  /** Generated ids, the stop id included when it was produced. */
  ids: number[];
  stop: StopReason | "aborted";
  steps: StepInfo[];
}

/**
 * The per-sequence part of the loop: the n-gram guard, the sampler, the stop condition and the ids
 * so far. {@link generate} drives one; the batched driver (batch.ts) drives one per sequence, so
 * both paths choose tokens identically.
 */
export class Generation {
  /** Generated ids, the stop id included when it was produced. */
  readonly ids: number[] = [];
  readonly steps: StepInfo[] = [];
  /** Why the sequence ended, or null while it goes on. */
  stop: StopReason | "aborted" | null = null;
  private readonly guard: NgramGuard;
  private readonly sampler: TokenSampler;
  private readonly stopCondition: StopCondition;

  /**
   * @param promptIds the prompt ids (the guard's `"all"` window searches them)
   * @param opts the settings (onToken is called from {@link next}; the signal is checked there)
   * @throws the AbortSignal's reason when it is already aborted
   */
  constructor(
    promptIds: readonly number[],
    readonly opts: GenerateOptions,
  ) {
    opts.signal?.throwIfAborted();
    this.guard = new NgramGuard(
      {
        ngramSize: opts.ngram.size,
        window: opts.ngram.window,
        whitelist: opts.ngram.window === "all" ? [] : NGRAM_WHITELIST_IDS,
      },
      promptIds,
    );
    this.sampler = new TokenSampler(opts.sampling);
    this.stopCondition = new StopCondition(
      { eosIds: [opts.eosTokenId ?? EOS_ID], maxNewTokens: opts.maxNewTokens, maxTotalTokens: opts.maxTotalTokens },
      promptIds.length,
    );
  }

  /**
   * Chooses the next id from the logits of the last position (guard first, then the sampler),
   * records it and calls onToken.
   * @returns the id to feed to the model next, or null when the sequence has ended (see {@link stop})
   * @throws Error when called after the sequence ended
   */
  next(logits: Float32Array): number | null {
    if (this.stop) throw new Error(`Generation.next: the sequence already ended (${this.stop})`);
    const banned = this.guard.banned();
    const choice = this.sampler.sample(logits, banned);
    this.ids.push(choice.id);
    this.guard.push(choice.id);
    this.steps.push({ token: choice.id, margin: choice.margin, banned: banned.size });
    this.opts.onToken?.(choice.id, this.ids.length - 1);
    const reason = this.stopCondition.check(choice.id, this.ids.length);
    if (reason) this.stop = reason;
    else if (this.opts.signal?.aborted) this.stop = "aborted";
    return this.stop ? null : choice.id;
  }

  /** The outcome so far (complete once {@link stop} is set). */
  result(): GenerateResult {
    return { ids: this.ids, stop: this.stop ?? "aborted", steps: this.steps };
  }
}

/**
 * Runs the loop.
 *
 * @param promptIds the prompt ids (the guard's `"all"` window searches them).
 * @param firstLogits logits `[vocab]` of the last prompt position (prefill).
 * @param step feeds one id and returns the next logits `[vocab]`.
 * @throws the AbortSignal's reason when aborted before the first step; later aborts end the loop with stop "aborted".
 */
export function generate(
  promptIds: readonly number[],
  firstLogits: Float32Array,
  step: (id: number) => Float32Array,
  opts: GenerateOptions,
): GenerateResult {
  const g = new Generation(promptIds, opts);
  let logits = firstLogits;
  for (;;) {
    const id = g.next(logits);
    if (id === null) return g.result();
    logits = step(id);
  }
}
