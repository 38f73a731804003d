/**
 * Choosing the next token from the logits (spec 8): greedy argmax (the official setting,
 * temperature 0) or temperature + top-p sampling with a seeded PRNG. Banned ids (n-gram guard)
 * count as −∞ before anything else.
 */
import { Xoshiro128 } from "../util/xoshiro.ts";

/** The chosen token plus the two best candidates, for diagnostics. */
export interface TokenChoice {
  /** The chosen id. */
  id: number;
  /** Best allowed id (= `id` for greedy). */
  top1: number;
  /** Raw logit of `top1`. */
  top1Logit: number;
  /** Second-best allowed id (the lower id on a tie), −1 if there is none. */
  top2: number;
  /** Raw logit of `top2` (−∞ if none). */
  top2Logit: number;
  /**
   * top1Logit − top2Logit over the allowed (non-banned) raw logits: a small margin means a near
   * tie that numeric noise could flip. 0 for an exact tie, +∞ when only one id is allowed.
   */
  margin: number;
}

/** Ids treated as −∞ (e.g. from the n-gram guard); undefined means nothing is banned. */
export type BannedIds = ReadonlySet<number> | undefined;

/** a > b in torch.argmax order: NaN counts as the largest value (torch propagates NaN). */
function greater(a: number, b: number): boolean {
  if (Number.isNaN(a)) return !Number.isNaN(b);
  return a > b;
}

/**
 * Greedy choice: the largest logit among ids not banned; ties go to the lowest id, as
 * `torch.argmax` does (a NaN logit wins, as in torch). One pass over the logits.
 *
 * @param logits one score per vocabulary id (length V, e.g. 129280).
 * @param banned ids treated as −∞.
 * @throws RangeError if the logits are empty or every id is banned.
 */
export function greedyArgmax(logits: ArrayLike<number>, banned?: BannedIds): TokenChoice {
  const V = logits.length;
  let i1 = -1;
  let v1 = Number.NEGATIVE_INFINITY;
  let i2 = -1;
  let v2 = Number.NEGATIVE_INFINITY;
  const checkBan = banned !== undefined && banned.size > 0;
  for (let i = 0; i < V; i++) {
    const v = logits[i];
    // Only candidates that would enter the top two are looked up in the banned set.
    if (i2 >= 0 && !greater(v, v2)) continue;
    if (checkBan && banned.has(i)) continue;
    if (i1 < 0 || greater(v, v1)) {
      i2 = i1;
      v2 = v1;
      i1 = i;
      v1 = v;
    } else {
      i2 = i;
      v2 = v;
    }
  }
  if (i1 < 0) throw new RangeError(V === 0 ? "greedyArgmax: empty logits" : "greedyArgmax: every id is banned");
  return {
    id: i1,
    top1: i1,
    top1Logit: v1,
    top2: i2,
    top2Logit: v2,
    margin: i2 < 0 ? Number.POSITIVE_INFINITY : v1 === v2 ? 0 : v1 - v2,
  };
}

/**
 * The seeded PRNG of sampling: xoshiro128** seeded from a number with splitmix32 (see
 * {@link Xoshiro128}). The same seed gives the same stream on every platform.
 */
export class SeededRandom extends Xoshiro128 {
  /** @param seed any number; only its low 32 bits (after truncation) matter. */
  constructor(seed: number) {
    const r = Xoshiro128.fromNumber(seed);
    super([r.s0, r.s1, r.s2, r.s3]);
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    return this.nextU32();
  }
}

/** Sampling settings. */
export interface SamplingOptions {
  /** ≤ 0 (default 0) means greedy argmax, as the official runs (temperature 0.0). */
  temperature?: number;
  /** Nucleus mass in (0, 1]; 1 (default) keeps every allowed id. */
  topP?: number;
  /** PRNG seed (default 0); the same seed and logits give the same tokens. */
  seed?: number;
}

/**
 * Next-token chooser. Greedy when `temperature ≤ 0`; otherwise softmax(logits / temperature)
 * over the allowed ids, restricted to the smallest set of most probable ids whose mass reaches
 * `topP` (ties in probability ordered by id), renormalised, and sampled with a
 * {@link SeededRandom}. Banned ids are −∞ first, so they are never chosen.
 */
export class TokenSampler {
  /** Effective temperature (0 = greedy). */
  readonly temperature: number;
  /** Effective top-p. */
  readonly topP: number;
  private readonly rng: SeededRandom;
  private probs: Float64Array = new Float64Array(0);

  /** @throws RangeError for a NaN temperature or a topP outside (0, 1]. */
  constructor(options: SamplingOptions = {}) {
    const temperature = options.temperature ?? 0;
    const topP = options.topP ?? 1;
    if (Number.isNaN(temperature)) throw new RangeError("temperature must be a number");
    if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
    this.temperature = Math.max(temperature, 0);
    this.topP = topP;
    this.rng = new SeededRandom(options.seed ?? 0);
  }

  /** Whether this sampler is greedy (temperature ≤ 0). */
  get greedy(): boolean {
    return this.temperature === 0;
  }

  /**
   * Chooses the next token.
   *
   * @param logits one raw score per vocabulary id (not modified).
   * @param banned ids treated as −∞.
   * @returns the chosen id and the top-two diagnostics of {@link greedyArgmax}.
   * @throws RangeError if every id is banned, or (sampling) the best allowed logit is not finite.
   */
  sample(logits: ArrayLike<number>, banned?: BannedIds): TokenChoice {
    const best = greedyArgmax(logits, banned);
    if (this.greedy) return best;
    if (!Number.isFinite(best.top1Logit)) {
      throw new RangeError(`cannot sample: the best allowed logit is ${best.top1Logit}`);
    }
    const V = logits.length;
    if (this.probs.length !== V) this.probs = new Float64Array(V);
    const p = this.probs;
    const invT = 1 / this.temperature;
    const max = best.top1Logit;
    for (let i = 0; i < V; i++) {
      const e = Math.exp((logits[i] - max) * invT);
      p[i] = Number.isNaN(e) ? 0 : e;
    }
    if (banned !== undefined) {
      for (const i of banned) if (Number.isInteger(i) && i >= 0 && i < V) p[i] = 0;
    }
    let total = 0;
    for (let i = 0; i < V; i++) total += p[i];
    return { ...best, id: this.topP >= 1 ? this.drawAll(p, total) : this.drawNucleus(p, total) };
  }

  /** Draws from the unnormalised weights `p` (sum `total`). */
  private drawAll(p: Float64Array, total: number): number {
    const u = this.rng.nextFloat() * total;
    let acc = 0;
    let last = -1;
    for (let i = 0; i < p.length; i++) {
      if (p[i] <= 0) continue;
      acc += p[i];
      last = i;
      if (u < acc) return i;
    }
    return last;
  }

  /**
   * Top-p: only ids with weight ≥ a threshold whose set already holds ≥ topP of the mass can be
   * in the nucleus (every lighter id comes after them), so only those are sorted.
   */
  private drawNucleus(p: Float64Array, total: number): number {
    const need = this.topP * total;
    let cand: number[] = [];
    for (const rel of [1e-2, 1e-4, 1e-7, 0]) {
      const thr = rel * total;
      cand = [];
      let mass = 0;
      for (let i = 0; i < p.length; i++) {
        if (p[i] > 0 && p[i] >= thr) {
          cand.push(i);
          mass += p[i];
        }
      }
      if (mass >= need || rel === 0) break;
    }
    cand.sort((a, b) => p[b] - p[a] || a - b);
    let kept = 0;
    let mass = 0;
    while (kept < cand.length) {
      mass += p[cand[kept]];
      kept++;
      if (mass >= need) break;
    }
    const u = this.rng.nextFloat() * mass;
    let acc = 0;
    for (let k = 0; k < kept; k++) {
      acc += p[cand[k]];
      if (u < acc) return cand[k];
    }
    return cand[kept - 1];
  }
}
