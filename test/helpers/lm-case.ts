/**
 * Language-model additions to `fixture-case.ts`: typed access to the generation and MoE-routing
 * parts of case.json, top-k comparison that tolerates (near-)equal values, argmax.
 *
 * Fixture layout and tolerance rules: ../shared/fixtures/README.md ("Tolerances": top-k lists may
 * hold equal values, compare them as values or as sets of ids within equal values).
 */
import assert from "node:assert/strict";
import { assertClose, type CloseReport, type FixtureCase, type Tolerance } from "./fixture-case.ts";

/** `case.json -> generation` (the parts the LM tests read). */
export interface GenerationJson {
  generated_ids: number[];
  generated_ids_without_ngram_guard: number[];
  /** True when the HF `no_repeat_ngram_size` guard changed the greedy output. */
  guard_changed_output: boolean;
  no_repeat_ngram_size: number;
  /** Per step: chosen token, margin top1 - top2 after the guard, raw margin, number of banned ids. */
  steps: { step: number; token: number; margin: number; raw_margin: number; n_banned: number }[];
}

/** `case.json -> moe_routing.layer{i}`. */
export interface MoeRoutingJson {
  top_k: number;
  /** Prefill positions whose k-th and (k+1)-th scores differ by < 1e-5 (routing may flip there). */
  "near_tie_positions_gap_lt_1e-5": number[];
  /** Experts (ascending) chosen at decode steps 1-3 (after feeding generated ids 0, 1, 2). */
  decode_steps_1_to_3_experts_sorted: number[][];
}

/** The LM-relevant parts of a case. */
export interface LmCaseInfo {
  inputIds: number[];
  inputLen: number;
  generation: GenerationJson;
  /** Keyed by MoE layer index. */
  moeRouting: Map<number, MoeRoutingJson>;
}

/** Reads the generation / routing parts of a case's JSON. @throws AssertionError when absent */
export function lmCaseInfo(fc: FixtureCase): LmCaseInfo {
  const j = fc.json as unknown as {
    input_ids: number[];
    input_len: number;
    generation: GenerationJson;
    moe_routing: Record<string, MoeRoutingJson>;
  };
  assert.ok(j.generation && j.moe_routing && Array.isArray(j.input_ids), `${fc.name}: no generation/moe_routing`);
  const moeRouting = new Map<number, MoeRoutingJson>();
  for (const [key, v] of Object.entries(j.moe_routing)) {
    const m = /^layer(\d+)$/.exec(key);
    assert.ok(m, `${fc.name}: unexpected moe_routing key ${key}`);
    moeRouting.set(Number(m[1]), v);
  }
  return { inputIds: j.input_ids, inputLen: j.input_len, generation: j.generation, moeRouting };
}

/** Indices of the k largest values of x, descending (ties: lower index first). */
export function topKDesc(x: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (best.length === k) {
      if (!(v > x[best[k - 1]])) continue;
      best.pop();
    }
    let p = best.length;
    while (p > 0 && v > x[best[p - 1]]) p--;
    best.splice(p, 0, i);
  }
  return best;
}

/** Index of the largest value (the first one on ties, like torch.argmax). */
export function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}

/**
 * Compares our top-k of `logits` with a reference top-k (`refIds`/`refVals`, sorted descending):
 * - values rank by rank within `tol`;
 * - our logit at every reference id within `tol` of its reference value;
 * - ids as sets within runs of reference values the tolerance cannot order (consecutive values
 *   closer than the allowance, which includes exactly equal values). A run reaching the end of
 *   the list may continue past it, so there only the values are compared.
 * @returns the statistics of the value comparison
 * @throws AssertionError
 */
export function assertTopK(
  label: string,
  logits: Float32Array,
  refIds: Int32Array,
  refVals: Float32Array,
  tol: Tolerance,
): CloseReport {
  const k = refIds.length;
  const ours = topKDesc(logits, k);
  const stats = assertClose(
    ours.map((i) => logits[i]),
    refVals,
    tol,
    `${label} top${k} values`,
  );
  assertClose(
    Array.from(refIds, (i) => logits[i]),
    refVals,
    tol,
    `${label} logits at the reference top${k} ids`,
  );
  let s = 0;
  while (s < k) {
    let e = s + 1;
    while (e < k && Math.abs(refVals[e - 1] - refVals[e]) <= tol.abs + tol.rel * Math.abs(refVals[e])) e++;
    if (e < k) {
      const a = ours.slice(s, e).sort((x, y) => x - y);
      const b = Array.from(refIds.subarray(s, e)).sort((x, y) => x - y);
      assert.deepEqual(a, b, `${label}: top ids at ranks ${s}..${e - 1} differ`);
    }
    s = e;
  }
  return stats;
}
