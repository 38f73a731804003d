/**
 * Named reusable f32 work buffers. A stage's large intermediates (e.g. SAM's 4096 x 3072 MLP hidden
 * layer) are written into the same memory on every call instead of a fresh array whose pages the
 * OS must fault in and zero each time (measured: ~0.4 ms per MB, ~20% of a 4096x768x3072 bf16 GEMM).
 *
 * `get(name, n)` returns a view of exactly n values of the buffer `name`, grown when too small; its
 * contents are whatever the last user left (not zeroed). A view is valid until the next `get` of the
 * same name: callers must not keep it past the step that consumes it, nor hand it out as a result.
 */
export class Scratch {
  private readonly bufs = new Map<string, Float32Array>();

  get(name: string, n: number): Float32Array {
    let b = this.bufs.get(name);
    if (!b || b.length < n) {
      b = new Float32Array(n);
      this.bufs.set(name, b);
    }
    return b.length === n ? b : b.subarray(0, n);
  }

  /** Drops every buffer (memory returns to the GC). */
  clear(): void {
    this.bufs.clear();
  }
}
