/**
 * Per-layer key/value cache of one sequence (spec 6.4): keys after RoPE and values, rows
 * `[tokens, kvHeads * headDim]`, grown by doubling.
 *
 * Storage dtype: `f32` (the parity path: the values exactly as computed) or `bf16` (bit patterns in
 * a `Uint16Array`, each value rounded to nearest-even on append, src/util/bf16.ts; as the official
 * bf16 runs keep K and V, and half the bytes the attention of a decode step reads). The attention
 * kernels take either ({@link Kernels.attention}).
 */
import type { KvArray } from "../../kernels/types.ts";
import { f32ArrayToBf16Bits } from "../../util/bf16.ts";

/** Element type of a {@link KvCache}. */
export type KvDtype = "f32" | "bf16";

/**
 * Rounds `src` to bf16 bit patterns into `dst` from `offset` (src/util/bf16.ts's rule, bit for bit):
 * {@link f32ArrayToBf16Bits} or a kernel set's `roundBf16`.
 */
export type Bf16Rounder = (src: Float32Array, dst: Uint16Array, offset: number) => void;

/** Keys and values of one attention layer. */
export class KvCache {
  k: KvArray;
  v: KvArray;
  /** Valid rows. */
  length = 0;

  /**
   * @param width kvHeads * headDim
   * @param capacity initial rows
   * @param dtype storage type (default f32)
   * @param round bf16 rounding of appended rows (default {@link f32ArrayToBf16Bits}; the engine passes
   *   the native kernels' `roundBf16`: same bits, ~50x faster on a long prefill)
   */
  constructor(
    readonly width: number,
    public capacity = 256,
    readonly dtype: KvDtype = "f32",
    private readonly round: Bf16Rounder = f32ArrayToBf16Bits,
  ) {
    this.k = this.alloc(capacity);
    this.v = this.alloc(capacity);
  }

  /** Bytes held by k and v together (capacity, not length). */
  get bytes(): number {
    return this.k.byteLength + this.v.byteLength;
  }

  private alloc(rows: number): KvArray {
    return this.dtype === "bf16" ? new Uint16Array(rows * this.width) : new Float32Array(rows * this.width);
  }

  /** Appends `rows` rows of k and v (`[rows, width]` each, f32; rounded to bf16 in a bf16 cache). */
  append(k: Float32Array, v: Float32Array, rows: number): void {
    const need = this.length + rows;
    const w = this.width;
    if (need > this.capacity) {
      let cap = this.capacity;
      while (cap < need) cap *= 2;
      const nk = this.alloc(cap);
      const nv = this.alloc(cap);
      nk.set(this.k.subarray(0, this.length * w));
      nv.set(this.v.subarray(0, this.length * w));
      this.k = nk;
      this.v = nv;
      this.capacity = cap;
    }
    const at = this.length * w;
    if (this.k instanceof Uint16Array && this.v instanceof Uint16Array) {
      this.round(k.subarray(0, rows * w), this.k, at);
      this.round(v.subarray(0, rows * w), this.v, at);
    } else if (this.k instanceof Float32Array && this.v instanceof Float32Array) {
      this.k.set(k.subarray(0, rows * w), at);
      this.v.set(v.subarray(0, rows * w), at);
    }
    this.length = need;
  }
}
