/**
 * Per-layer key/value cache of one sequence (spec 6.4): keys after RoPE and values, rows
 * `[tokens, kvHeads * headDim]` in f32, grown by doubling.
 */

/** Keys and values of one attention layer. */
export class KvCache {
  k: Float32Array;
  v: Float32Array;
  /** Valid rows. */
  length = 0;

  /**
   * @param width kvHeads * headDim
   * @param capacity initial rows
   */
  constructor(
    readonly width: number,
    public capacity = 256,
  ) {
    this.k = new Float32Array(capacity * width);
    this.v = new Float32Array(capacity * width);
  }

  /** Appends `rows` rows of k and v (`[rows, width]` each). */
  append(k: Float32Array, v: Float32Array, rows: number): void {
    const need = this.length + rows;
    if (need > this.capacity) {
      let cap = this.capacity;
      while (cap < need) cap *= 2;
      const nk = new Float32Array(cap * this.width);
      const nv = new Float32Array(cap * this.width);
      nk.set(this.k.subarray(0, this.length * this.width));
      nv.set(this.v.subarray(0, this.length * this.width));
      this.k = nk;
      this.v = nv;
      this.capacity = cap;
    }
    this.k.set(k.subarray(0, rows * this.width), this.length * this.width);
    this.v.set(v.subarray(0, rows * this.width), this.length * this.width);
    this.length = need;
  }
}
