/**
 * The n-gram repetition guard (spec 8.1, 8.2): before each step, ban every token that would
 * complete an n-gram that already occurred.
 *
 * Two official variants, selected by {@link NgramOptions}:
 * - vLLM scripts (`NoRepeatNGramLogitsProcessor`, ngram_norepeat.py): over the **generated ids
 *   only**, n-grams starting in the last `window` positions, whitelist `{<td>, </td>}`.
 *   The PDF script uses n = 20, window = 50 ({@link NGRAM_VLLM_PDF}).
 * - HF `infer()` (transformers `no_repeat_ngram_size`): over the **whole sequence** (BOS, the
 *   `<image>` run, prompt text and generated ids), no window, no whitelist; n = 20, or 35 with
 *   `eval_mode` ({@link NGRAM_HF_INFER}).
 *
 * Definition (both): with s the ids in scope (length t) and n the n-gram size, if n = 0 or t < n
 * nothing is banned; otherwise every start i with lo ≤ i ≤ t − n, where lo = 0 for
 * `window: "all"` and max(0, t − window) otherwise, whose s[i … i+n−2] equals the last n−1 ids
 * s[t−n+1 … t−1] bans s[i+n−1]; whitelisted ids are never banned.
 */
import { NGRAM_WHITELIST_IDS } from "../tokenizer/special.ts";

/** Guard settings. */
export interface NgramOptions {
  /** n-gram length n; 0 disables the guard. */
  ngramSize: number;
  /** How many of the most recent start positions are searched, or `"all"` (no window). */
  window: number | "all";
  /** Ids never banned (the vLLM scripts use `{128821, 128822}`). Default none. */
  whitelist?: Iterable<number>;
  /**
   * Which ids are searched: `"generated"` (vLLM: the generated ids only) or `"sequence"` (HF:
   * prompt ids + generated ids). Default: `"sequence"` when `window` is `"all"`, else `"generated"`.
   */
  scope?: "generated" | "sequence";
}

/** Official PDF scripts (v1 and v2 vLLM): n 20, window 50, whitelist `<td>`, `</td>`. */
export const NGRAM_VLLM_PDF: Readonly<NgramOptions> = Object.freeze({
  ngramSize: 20,
  window: 50,
  whitelist: NGRAM_WHITELIST_IDS,
  scope: "generated" as const,
});

/** Official v2 image script (vLLM, streaming): n 20, window 90, whitelist `<td>`, `</td>`. */
export const NGRAM_VLLM_IMAGE: Readonly<NgramOptions> = Object.freeze({
  ngramSize: 20,
  window: 90,
  whitelist: NGRAM_WHITELIST_IDS,
  scope: "generated" as const,
});

/** HF `infer()` (v1 and v2): transformers `no_repeat_ngram_size=20` over the whole sequence. */
export const NGRAM_HF_INFER: Readonly<NgramOptions> = Object.freeze({
  ngramSize: 20,
  window: "all" as const,
  whitelist: Object.freeze([]) as readonly number[],
  scope: "sequence" as const,
});

interface Resolved {
  n: number;
  window: number;
  whitelist: Set<number>;
  includePrompt: boolean;
}

function resolve(opts: NgramOptions): Resolved {
  const n = opts.ngramSize;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`ngramSize must be a non-negative integer, got ${n}`);
  let window: number;
  if (opts.window === "all") window = Number.POSITIVE_INFINITY;
  else if (Number.isInteger(opts.window) && opts.window > 0) window = opts.window;
  else throw new RangeError(`window must be a positive integer or "all", got ${opts.window}`);
  const scope = opts.scope ?? (opts.window === "all" ? "sequence" : "generated");
  if (scope !== "sequence" && scope !== "generated") throw new RangeError(`invalid ngram scope ${scope}`);
  return { n, window, whitelist: new Set(opts.whitelist ?? []), includePrompt: scope === "sequence" };
}

/**
 * Reference (brute-force) banned set for the next token, straight from the definition in this
 * module's header. O(window · n) per call; use {@link NgramGuard} inside the generation loop.
 *
 * @param opts guard settings.
 * @param promptIds prompt ids (only searched with scope `"sequence"`).
 * @param generatedIds ids generated so far.
 * @returns the banned ids (whitelist removed).
 * @throws RangeError for invalid settings.
 */
export function bannedTokens(
  opts: NgramOptions,
  promptIds: readonly number[],
  generatedIds: readonly number[],
): Set<number> {
  const r = resolve(opts);
  const s = r.includePrompt ? [...promptIds, ...generatedIds] : generatedIds;
  const t = s.length;
  const n = r.n;
  const banned = new Set<number>();
  if (n === 0 || t < n) return banned;
  const lo = Number.isFinite(r.window) ? Math.max(0, t - r.window) : 0;
  const p = t - n + 1; // start of the current prefix
  for (let i = lo; i <= t - n; i++) {
    let k = 0;
    while (k < n - 1 && s[i + k] === s[p + k]) k++;
    if (k === n - 1) banned.add(s[i + n - 1]);
  }
  for (const w of r.whitelist) banned.delete(w);
  return banned;
}

/** All n-grams seen with one (n−1)-id prefix, and how often each next id follows it. */
interface Bucket {
  /** A start index in the sequence where this prefix occurs (sequence is append-only). */
  rep: number;
  next: Map<number, number>;
  total: number;
}

/**
 * Incremental guard for the generation loop. Keeps a table from each (n−1)-id prefix (hashed, with
 * exact comparison on collision) to the ids that followed it, adding the n-gram that each new id
 * completes and dropping n-grams that leave the window. {@link banned} then costs one hash of the
 * last n−1 ids and one lookup: O(n) per step, independent of the sequence length (an 8k-token
 * sequence with `window: "all"` costs the same per step as a short one).
 *
 * Equal to {@link bannedTokens} at every step (checked on random sequences by the tests).
 *
 * Usage: `const g = new NgramGuard(opts, promptIds);` then before each step `g.banned()`, and
 * after sampling `g.push(id)`.
 */
export class NgramGuard {
  private readonly n: number;
  private readonly window: number;
  private readonly whitelist: Set<number>;
  /** The ids in scope (append-only; capacity grows by doubling). */
  protected seq: Int32Array;
  private len = 0;
  /** Next n-gram start to add / to remove. */
  private addedUntil = 0;
  private removedUntil = 0;
  private readonly table = new Map<number, Bucket[]>();
  /** Prefix hash of each added n-gram start (for removal). */
  private startHash: Float64Array;

  /**
   * @param opts guard settings (validated).
   * @param promptIds prompt ids; searched only with scope `"sequence"` (HF).
   * @throws RangeError for invalid settings.
   */
  constructor(opts: NgramOptions, promptIds: readonly number[] = []) {
    const r = resolve(opts);
    this.n = r.n;
    this.window = r.window;
    this.whitelist = r.whitelist;
    const initial = r.includePrompt ? promptIds.length : 0;
    this.seq = new Int32Array(Math.max(1024, initial * 2));
    this.startHash = new Float64Array(this.seq.length);
    if (r.includePrompt) for (const id of promptIds) this.push(id);
  }

  /** Number of ids in scope (prompt ids included with scope `"sequence"`). */
  get length(): number {
    return this.len;
  }

  /** Whether the guard does anything (ngramSize > 0). */
  get enabled(): boolean {
    return this.n > 0;
  }

  /** Appends one id (a generated token, after it was chosen). */
  push(id: number): void {
    if (this.len === this.seq.length) {
      const grown = new Int32Array(this.seq.length * 2);
      grown.set(this.seq);
      this.seq = grown;
      const hashes = new Float64Array(grown.length);
      hashes.set(this.startHash);
      this.startHash = hashes;
    }
    this.seq[this.len++] = id;
    const n = this.n;
    if (n === 0) return;
    const t = this.len;
    while (this.addedUntil <= t - n) this.add(this.addedUntil++);
    const lo = t - this.window; // -Infinity for "all"
    while (this.removedUntil < this.addedUntil && this.removedUntil < lo) this.remove(this.removedUntil++);
  }

  /** Appends several ids. */
  pushAll(ids: Iterable<number>): void {
    for (const id of ids) this.push(id);
  }

  /**
   * Ids banned for the next token (a fresh set; whitelist removed). Empty when disabled or when
   * fewer than n ids are in scope.
   */
  banned(): Set<number> {
    const out = new Set<number>();
    const n = this.n;
    const t = this.len;
    if (n === 0 || t < n) return out;
    const p = t - n + 1;
    const bucket = this.find(this.hashAt(p), p);
    if (!bucket) return out;
    for (const [id, count] of bucket.next) if (count > 0 && !this.whitelist.has(id)) out.add(id);
    return out;
  }

  /**
   * Hash of the n−1 ids starting at `start`, as a 53-bit integer (two 32-bit mixes). Equal
   * prefixes must give equal hashes; different prefixes may collide (buckets compare ids exactly).
   * Protected so tests can force collisions.
   */
  protected hashAt(start: number): number {
    let h1 = 0x811c9dc5 | 0;
    let h2 = 0x2545f491 | 0;
    const s = this.seq;
    const end = start + this.n - 1;
    for (let i = start; i < end; i++) {
      const v = s[i];
      h1 = Math.imul(h1 ^ v, 0x01000193);
      h1 ^= h1 >>> 15;
      h2 = Math.imul(h2 + v, 0x9e3779b1);
      h2 ^= h2 >>> 13;
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 0xc2b2ae35);
    return (h1 >>> 0) * 0x200000 + (h2 >>> 11);
  }

  private samePrefix(a: number, b: number): boolean {
    if (a === b) return true;
    const s = this.seq;
    for (let k = 0; k < this.n - 1; k++) if (s[a + k] !== s[b + k]) return false;
    return true;
  }

  private find(hash: number, start: number): Bucket | undefined {
    const list = this.table.get(hash);
    if (!list) return undefined;
    for (const b of list) if (this.samePrefix(b.rep, start)) return b;
    return undefined;
  }

  private add(start: number): void {
    const hash = this.hashAt(start);
    this.startHash[start] = hash;
    const next = this.seq[start + this.n - 1];
    let list = this.table.get(hash);
    if (!list) {
      list = [];
      this.table.set(hash, list);
    }
    let bucket: Bucket | undefined;
    for (const b of list) {
      if (this.samePrefix(b.rep, start)) {
        bucket = b;
        break;
      }
    }
    if (!bucket) {
      bucket = { rep: start, next: new Map(), total: 0 };
      list.push(bucket);
    }
    bucket.next.set(next, (bucket.next.get(next) ?? 0) + 1);
    bucket.total++;
  }

  private remove(start: number): void {
    const hash = this.startHash[start];
    const list = this.table.get(hash);
    if (!list) return;
    const idx = list.findIndex((b) => this.samePrefix(b.rep, start));
    if (idx < 0) return;
    const bucket = list[idx];
    const next = this.seq[start + this.n - 1];
    const c = (bucket.next.get(next) ?? 0) - 1;
    if (c > 0) bucket.next.set(next, c);
    else bucket.next.delete(next);
    bucket.total--;
    if (bucket.total === 0) {
      list.splice(idx, 1);
      if (list.length === 0) this.table.delete(hash);
    }
  }
}
