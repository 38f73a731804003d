/**
 * Iteration order of a CPython 3.8+ (64-bit) `set` of int pairs, needed to replay the candidate
 * order of `dynamic_preprocess` exactly (spec §3.3 step 1).
 *
 * The official code builds the candidate grids as `set((i, j) for ...)` and then sorts them by
 * i·j with a stable sort, so among equal products the set's iteration order decides which
 * candidate comes first. That order matters only for an exact tie between two grids of the same
 * product (e.g. min = max = 2 and W/H = 1.25), but replaying it costs little.
 *
 * Model (CPython `Objects/tupleobject.c` `tuplehash` (xxHash-style, 3.8+) and
 * `Objects/setobject.c` `set_add_entry` / `set_table_resize` / `set_insert_clean`):
 * table of 8 slots, linear probing of up to 9 further slots when they fit below the mask, then
 * `i = (i * 5 + 1 + (perturb >>= 5)) & mask`; after an insertion the table grows when
 * `fill * 5 >= mask * 3`, to the smallest power of two > 4 · used, re-inserting in table order.
 * Iteration walks the table from slot 0. Verified against the two CPython orders quoted in the
 * spec (min/max 2/6 and 2/9).
 *
 * @module
 */

const M64 = (1n << 64n) - 1n;
const XXPRIME_1 = 11400714785074694791n;
const XXPRIME_2 = 14029467366897019727n;
const XXPRIME_5 = 2870177450012600261n;

/** CPython `hash(int)` for a small non-negative int, as an unsigned 64-bit value. */
function intHash(v: number): bigint {
  // hash(-1) == -2 in CPython; only non-negative ints are used here.
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`pyTupleHash: only non-negative ints supported, got ${v}`);
  return BigInt(v);
}

/**
 * CPython's `hash(tuple_of_small_ints)` on a 64-bit build, as an unsigned 64-bit BigInt
 * (the bit pattern of the signed Py_hash_t).
 *
 * @param items - non-negative integers (each < 2^61 - 1)
 * @returns the hash bits, 0 <= h < 2^64
 * @throws RangeError for negative or non-integer items
 */
export function pyTupleHash(items: readonly number[]): bigint {
  let acc = XXPRIME_5;
  for (const it of items) {
    const lane = intHash(it);
    acc = (acc + lane * XXPRIME_2) & M64;
    acc = ((acc << 31n) | (acc >> 33n)) & M64;
    acc = (acc * XXPRIME_1) & M64;
  }
  acc = (acc + (BigInt(items.length) ^ (XXPRIME_5 ^ 3527539n))) & M64;
  if (acc === M64) return 1546275796n;
  return acc;
}

interface Slot {
  key: string;
  value: [number, number];
  hash: bigint;
}

const LINEAR_PROBES = 9;
const PERTURB_SHIFT = 5n;

function insertClean(table: (Slot | null)[], mask: number, slot: Slot): void {
  let perturb = slot.hash;
  let i = Number(slot.hash & BigInt(mask));
  for (;;) {
    if (table[i] === null) {
      table[i] = slot;
      return;
    }
    if (i + LINEAR_PROBES <= mask) {
      for (let j = 1; j <= LINEAR_PROBES; j++) {
        if (table[i + j] === null) {
          table[i + j] = slot;
          return;
        }
      }
    }
    perturb >>= PERTURB_SHIFT;
    i = Number((BigInt(i) * 5n + 1n + perturb) & BigInt(mask));
  }
}

/**
 * Replays `set(pairs)` in CPython (pairs added one by one, duplicates ignored) and returns the
 * distinct pairs in the set's iteration order.
 *
 * @param pairs - int pairs in insertion order (non-negative ints)
 * @returns the distinct pairs in CPython set iteration order
 */
export function pySetOrder(pairs: Iterable<readonly [number, number]>): [number, number][] {
  let size = 8;
  let table: (Slot | null)[] = new Array(size).fill(null);
  let used = 0;
  for (const [a, b] of pairs) {
    const key = `${a},${b}`;
    const hash = pyTupleHash([a, b]);
    const mask = size - 1;
    let perturb = hash;
    let i = Number(hash & BigInt(mask));
    let found = false;
    let target = -1;
    outer: for (;;) {
      const probes = i + LINEAR_PROBES <= mask ? LINEAR_PROBES : 0;
      for (let p = 0; p <= probes; p++) {
        const e = table[i + p];
        if (e === null) {
          target = i + p;
          break outer;
        }
        if (e.hash === hash && e.key === key) {
          found = true;
          break outer;
        }
      }
      perturb >>= PERTURB_SHIFT;
      i = Number((BigInt(i) * 5n + 1n + perturb) & BigInt(mask));
    }
    if (found) continue;
    table[target] = { key, value: [a, b], hash };
    used++;
    // No deletions, so fill == used.
    if (used * 5 >= mask * 3) {
      const minused = used > 50000 ? used * 2 : used * 4;
      let newSize = 8;
      while (newSize <= minused) newSize <<= 1;
      const next: (Slot | null)[] = new Array(newSize).fill(null);
      for (const s of table) if (s !== null) insertClean(next, newSize - 1, s);
      table = next;
      size = newSize;
    }
  }
  const out: [number, number][] = [];
  for (const s of table) if (s !== null) out.push([s.value[0], s.value[1]]);
  return out;
}
