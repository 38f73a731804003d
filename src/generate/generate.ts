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
  opts.signal?.throwIfAborted();
  const guard = new NgramGuard(
    {
      ngramSize: opts.ngram.size,
      window: opts.ngram.window,
      whitelist: opts.ngram.window === "all" ? [] : NGRAM_WHITELIST_IDS,
    },
    promptIds,
  );
  const sampler = new TokenSampler(opts.sampling);
  const stop = new StopCondition(
    { eosIds: [opts.eosTokenId ?? EOS_ID], maxNewTokens: opts.maxNewTokens, maxTotalTokens: opts.maxTotalTokens },
    promptIds.length,
  );
  const ids: number[] = [];
  const steps: StepInfo[] = [];
  let logits = firstLogits;
  for (;;) {
    const banned = guard.banned();
    const choice = sampler.sample(logits, banned);
    ids.push(choice.id);
    guard.push(choice.id);
    steps.push({ token: choice.id, margin: choice.margin, banned: banned.size });
    opts.onToken?.(choice.id, ids.length - 1);
    const reason = stop.check(choice.id, ids.length);
    if (reason) return { ids, stop: reason, steps };
    if (opts.signal?.aborted) return { ids, stop: "aborted", steps };
    logits = step(choice.id);
  }
}
