/**
 * Streaming detokenization: turns generated ids into text deltas as they arrive, never emitting
 * half a UTF-8 character (a byte-level BPE token can hold part of a character, e.g. the first
 * bytes of an emoji).
 */
import type { DecodeOptions } from "./tokenizer.ts";

/** What the streamer needs from a tokenizer (a {@link DeepSeekTokenizer} fits). */
export interface IdDecoder {
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
}

const REPLACEMENT = "\uFFFD";

/**
 * Incremental detokenizer. Invariant: the concatenation of every {@link push} result and the
 * final {@link flush} equals `tokenizer.decode(allIds, options)`.
 *
 * How: ids not yet emitted are held. After each push the held ids are decoded; if the text is
 * non-empty and does not end in U+FFFD (which is what an incomplete UTF-8 sequence decodes to),
 * it is emitted and the held list is cleared. Emitting only at a complete character keeps the
 * UTF-8 decoder at a sequence boundary, so decoding the held ids alone equals the corresponding
 * part of decoding everything. Text that really ends in U+FFFD (an invalid byte, or the character
 * itself) is held until the next character completes or until {@link flush}. Each push decodes
 * only the held ids (usually one), so the cost per token is O(1) in the sequence length.
 */
export class StreamingDetokenizer {
  private readonly tokenizer: IdDecoder;
  private readonly options: DecodeOptions;
  private pending: number[] = [];
  private emitted = "";
  private count = 0;

  /**
   * @param tokenizer the decoder (its `decode` must map `[]` to "").
   * @param options decode options for every chunk; default keeps special tokens, as the official
   *   code does (spec 4.5).
   */
  constructor(tokenizer: IdDecoder, options: DecodeOptions = {}) {
    this.tokenizer = tokenizer;
    this.options = { ...options };
  }

  /**
   * Adds one generated id.
   *
   * @returns the newly completed text ("" while a character is incomplete or the id decodes to
   *   nothing).
   */
  push(id: number): string {
    this.count++;
    this.pending.push(id);
    const text = this.tokenizer.decode(this.pending, this.options);
    if (text.endsWith(REPLACEMENT)) return "";
    this.pending = [];
    this.emitted += text;
    return text;
  }

  /** Adds several ids; returns the concatenated deltas. */
  pushAll(ids: Iterable<number>): string {
    let out = "";
    for (const id of ids) out += this.push(id);
    return out;
  }

  /** Emits everything still held (incomplete UTF-8 becomes U+FFFD) and resets the hold. */
  flush(): string {
    if (this.pending.length === 0) return "";
    const text = this.tokenizer.decode(this.pending, this.options);
    this.pending = [];
    this.emitted += text;
    return text;
  }

  /** All text emitted so far (push and flush results, concatenated). */
  get text(): string {
    return this.emitted;
  }

  /** Number of ids pushed so far. */
  get tokenCount(): number {
    return this.count;
  }

  /** Number of ids held back because their text is not complete yet. */
  get pendingCount(): number {
    return this.pending.length;
  }
}
