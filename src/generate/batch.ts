/**
 * Batched generation (issue 10): several sequences decode together, one model call per step for
 * all of them (the caller's `step` is e.g. `LanguageModel.decodeBatch`, which reads each weight
 * once for the whole batch). Every sequence keeps its own {@link Generation} (n-gram guard,
 * sampler, stop condition, AbortSignal, onToken callback), so each chooses exactly the ids the
 * single-sequence {@link generate} loop would. Finished sequences leave the batch; a new, already
 * prefilled sequence can be added between steps and joins at the next one.
 *
 * Synchronous and model-agnostic: `S` is whatever per-sequence state the step function takes.
 */
import { type GenerateOptions, type GenerateResult, Generation } from "./generate.ts";

/** One batched model call: feeds `ids[i]` to `states[i]` and returns the next logits of each. */
export type BatchStepFn<S> = (states: S[], ids: number[]) => Float32Array[];

/** A sequence in a {@link BatchDecoder}. */
export class BatchSequence<S> {
  /** The outcome once finished (stop set), else null. */
  result: GenerateResult | null = null;
  /** Set when this sequence failed (its onToken threw, or the batched model call threw). */
  error: unknown = undefined;

  /** @internal */
  constructor(
    readonly state: S,
    /** @internal */ readonly gen: Generation,
    /** @internal */ public logits: Float32Array,
    private readonly onDone?: (seq: BatchSequence<S>) => void,
  ) {}

  /** True once the sequence has left the batch (finished or failed). */
  get done(): boolean {
    return this.result !== null || this.error !== undefined;
  }

  /** Ids generated so far. */
  get ids(): readonly number[] {
    return this.gen.ids;
  }

  /** @internal */
  finish(error?: unknown): void {
    if (error !== undefined) this.error = error;
    else this.result = this.gen.result();
    this.onDone?.(this);
  }
}

/** Options of a {@link BatchDecoder}. */
export interface BatchDecoderOptions {
  /** Most rows per model call; a larger batch is fed in chunks of this size. Default: no limit. */
  maxBatch?: number;
}

/** Drives several generations with one batched model call per step. */
export class BatchDecoder<S> {
  private active: BatchSequence<S>[] = [];
  private readonly maxBatch: number;

  /**
   * @param stepFn the batched model call
   * @param opts batching options
   */
  constructor(
    private readonly stepFn: BatchStepFn<S>,
    opts: BatchDecoderOptions = {},
  ) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? Number.POSITIVE_INFINITY);
  }

  /** Sequences in flight. */
  get size(): number {
    return this.active.length;
  }

  /**
   * Adds a prefilled sequence; its first id is chosen (from `firstLogits`) at the next {@link step}.
   * @param state the sequence's model state (prefilled)
   * @param promptIds its prompt ids (the guard's `"all"` window searches them)
   * @param firstLogits logits of its last prompt position
   * @param opts its generation settings (onToken, signal, sampling, limits)
   * @param onDone called once when it finishes or fails (from inside step())
   * @throws the AbortSignal's reason when it is already aborted (nothing is added)
   */
  add(
    state: S,
    promptIds: readonly number[],
    firstLogits: Float32Array,
    opts: GenerateOptions,
    onDone?: (seq: BatchSequence<S>) => void,
  ): BatchSequence<S> {
    const seq = new BatchSequence(state, new Generation(promptIds, opts), firstLogits, onDone);
    this.active.push(seq);
    return seq;
  }

  /**
   * One step: every sequence in flight chooses its next id from its current logits (its onToken
   * runs); the ones that stopped (EOS, limits, abort) or whose callback threw leave the batch;
   * the rest are fed in one batched model call (chunks of maxBatch) and get their next logits.
   * A sequence's onDone runs when it leaves.
   * @returns the sequences that left the batch in this step
   * @throws whatever the model call throws; the sequences of that call and of the chunks after it
   *   are then failed with it and removed (their states are in an unknown condition)
   */
  step(): BatchSequence<S>[] {
    const left: BatchSequence<S>[] = [];
    const going: BatchSequence<S>[] = [];
    const ids: number[] = [];
    for (const seq of this.active) {
      let id: number | null;
      try {
        id = seq.gen.next(seq.logits);
      } catch (e) {
        seq.finish(e);
        left.push(seq);
        continue;
      }
      if (id === null) {
        seq.finish();
        left.push(seq);
      } else {
        going.push(seq);
        ids.push(id);
      }
    }
    this.active = going;
    for (let o = 0; o < going.length; o += this.maxBatch) {
      const part = going.slice(o, o + this.maxBatch);
      let out: Float32Array[];
      try {
        out = this.stepFn(
          part.map((s) => s.state),
          ids.slice(o, o + this.maxBatch),
        );
        if (out.length !== part.length) {
          throw new Error(`BatchDecoder: the step returned ${out.length} logits for ${part.length} sequences`);
        }
      } catch (e) {
        // This chunk and the ones not fed yet cannot go on (their ids were chosen but not fed).
        const rest = going.slice(o);
        const failed = new Set(rest);
        this.active = this.active.filter((s) => !failed.has(s));
        for (const s of rest) s.finish(e);
        throw e;
      }
      part.forEach((s, i) => {
        s.logits = out[i];
      });
    }
    return left;
  }

  /** Steps until no sequence is left in flight. @throws as {@link step} */
  runToEnd(): void {
    while (this.active.length > 0) this.step();
  }
}
