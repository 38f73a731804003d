/**
 * Bench results: the entry type, the informational targets, the printed table and the JSON file
 * (`{ machine: { cpu, flags, threads, read_gbps, fma_gflops }, results: [ { name, value, unit,
 * limit, percent_of_limit, ... } ] }`, documented in BENCHMARKS.md).
 */
import { writeFileSync } from "node:fs";

export interface Machine {
  cpu: string;
  /** SIMD features the kernels can use (e.g. ["avx2", "fma", "avx512f", "avx512bf16"]). */
  flags: string[];
  /** ISA level the kernels ran at: the best of this CPU, or the lower one DSOCR_ISA forced. */
  isa: string;
  threads: number;
  /** Streaming read bandwidth, GB/s (1e9 B/s), measured in this run. */
  read_gbps: number;
  /** FMA peak per loop kind, GFLOP/s, measured in this run (e.g. { "f32-avx512": …, "bf16-avx512": … }). */
  fma_gflops: Record<string, number>;
}

export interface Result {
  name: string;
  /** null when not measured (see `note`). */
  value: number | null;
  unit: string;
  /** The machine's own limit in the same unit (null when none applies). */
  limit: number | null;
  /** 100 · value / limit, or null. */
  percent_of_limit: number | null;
  /** What the figure assumes: FLOPs per run, or bytes read per token, or the limit's basis. */
  flops?: number;
  bytes?: number;
  seconds?: number;
  /** Target text (informational) and whether it is met; null when not measured. */
  target?: string;
  pass?: boolean | null;
  /** Peer (oneDNN) value in the same unit, and our/peer ratio. */
  peer?: number | null;
  ratio?: number | null;
  note?: string;
}

/** Builds an entry, filling percent_of_limit. */
export function result(
  name: string,
  value: number | null,
  unit: string,
  limit: number | null,
  extra: Partial<Result> = {},
): Result {
  const pct = value !== null && limit !== null && limit > 0 ? (100 * value) / limit : null;
  return { name, value, unit, limit, percent_of_limit: pct, ...extra };
}

/**
 * Applies the issue-10 targets (informational): decode b1 >= 90% of the bandwidth limit, decode b8
 * >= 3x b1 tokens/s, GEMM >= 75% of peak, encode/prefill >= 60% of peak, rss peak <= 1.25x checkpoint.
 */
export function applyTargets(results: Result[]): void {
  const byName = new Map(results.map((r) => [r.name, r]));
  for (const r of results) {
    const pct = r.percent_of_limit;
    const atLeast = (p: number) => {
      r.target = `>= ${p}% of limit`;
      r.pass = pct === null ? null : pct >= p;
    };
    if (r.name.startsWith("gemm.")) atLeast(75);
    else if (r.name.startsWith("encode.") || r.name.startsWith("prefill.")) atLeast(60);
    else if (r.name === "decode.b1.bf16" || r.name === "decode.b1.int8") atLeast(90);
    else if (r.name.startsWith("decode.b8.")) {
      const b1 = byName.get(`decode.b1.${r.name.split(".")[2]}`);
      r.target = ">= 3x decode.b1";
      r.pass = r.value === null || !b1 || b1.value === null ? null : r.value >= 3 * b1.value;
      if (r.value !== null && b1?.value && r.bytes && b1.bytes) {
        // Both at their bandwidth limits, b8 / b1 tokens/s = 8 x bytes(b1 step) / bytes(b8 step).
        const bound = (8 * b1.bytes) / r.bytes;
        const ratio = `${(r.value / b1.value).toFixed(2)}x decode.b1; at the bandwidth limit 8 x ${fmt(b1.bytes)}B / ${fmt(r.bytes)}B = ${bound.toFixed(2)}x`;
        r.note = r.note ? `${r.note}; ${ratio}` : ratio;
      }
    } else if (r.name.startsWith("rss.peak")) {
      r.target = "<= 125% of checkpoint";
      r.pass = pct === null ? null : pct <= 125;
    }
  }
}

/** The JSON document: machine + results, keys as documented. */
export function buildReport(machine: Machine, results: Result[]): { machine: Machine; results: Result[] } {
  return { machine, results };
}

export function writeJson(path: string, machine: Machine, results: Result[]): void {
  writeFileSync(path, `${JSON.stringify(buildReport(machine, results), null, 2)}\n`);
}

/** Compact number: 3 significant digits, SI suffix for large values. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  const a = Math.abs(v);
  if (a >= 1e12) return `${(v / 1e12).toPrecision(3)}T`;
  if (a >= 1e9) return `${(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 100) return v.toFixed(0);
  return v.toPrecision(3);
}

/** The printed table (one row per result). */
export function formatTable(results: Result[]): string {
  const head = ["name", "value", "unit", "limit", "%limit", "target", "ok", "peer", "our/peer", "assumes"];
  const rows = results.map((r) => [
    r.name,
    r.value === null ? (r.note ?? "n/a") : fmt(r.value),
    r.unit,
    fmt(r.limit),
    r.percent_of_limit === null ? "-" : `${r.percent_of_limit.toFixed(1)}%`,
    r.target ?? "",
    r.pass === undefined || r.pass === null ? "-" : r.pass ? "pass" : "FAIL",
    r.peer === undefined ? "" : r.peer === null ? "not installed" : fmt(r.peer),
    r.ratio === undefined || r.ratio === null ? "" : r.ratio.toFixed(2),
    r.flops !== undefined ? `${fmt(r.flops)}FLOP` : r.bytes !== undefined ? `${fmt(r.bytes)}B` : "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
