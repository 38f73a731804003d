/**
 * Intermediate-tensor dumping (`--dump <dir>`): components call `dump(name, ...)` with the
 * fixtures' tensor names (../shared/fixtures/README.md, "Tensor names") so a failing comparison
 * can be diffed tensor by tensor. A no-op unless a sink is attached.
 */

/** Receives named intermediates. `shape` is row-major; data is copied by the sink if kept. */
export interface DumpSink {
  put(name: string, data: Float32Array | Int32Array, shape: number[]): void;
}

/** Optional sink; components call `dumper?.put(...)`. */
export type Dumper = DumpSink | undefined;

/** A sink that keeps copies in memory (used by tests). */
export class MemoryDump implements DumpSink {
  readonly tensors = new Map<string, { data: Float32Array | Int32Array; shape: number[] }>();
  put(name: string, data: Float32Array | Int32Array, shape: number[]): void {
    this.tensors.set(name, { data: data.slice(), shape: [...shape] });
  }
}

/**
 * Writes everything a {@link MemoryDump} collected to one safetensors file (F32 and I32 tensors
 * under the fixtures' names), so it can be diffed against `cases/<case>/tensors.safetensors`.
 * @throws CheckpointError / file-system errors
 */
export async function saveDump(dump: MemoryDump, file: string): Promise<void> {
  const { writeSafetensors } = await import("../checkpoint/writer.ts");
  const entries = [...dump.tensors].map(([name, t]) => ({
    name,
    dtype: t.data instanceof Int32Array ? ("I32" as const) : ("F32" as const),
    shape: t.shape,
    data: t.data,
  }));
  writeSafetensors(file, entries);
}
