/**
 * The oneDNN peer: builds bench/peers/onednn_gemm.cc against the system libdnnl (only when its
 * headers are installed, e.g. `apt-get install libdnnl-dev`) and times the same GEMM shapes.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, "onednn_gemm.cc");

/** Builds the driver into `outDir` (once per source change); returns its path, or a reason it is unavailable. */
export function buildOneDnn(outDir: string): { exe: string } | { unavailable: string } {
  const probe = spawnSync("g++", ["-std=c++17", "-E", "-x", "c++", "-", "-o", "/dev/null"], {
    input: "#include <oneapi/dnnl/dnnl.hpp>\n",
    encoding: "utf8",
  });
  if (probe.error || probe.status !== 0) return { unavailable: "not installed" };
  mkdirSync(outDir, { recursive: true });
  const exe = resolve(outDir, "onednn_gemm");
  if (existsSync(exe) && statSync(exe).mtimeMs >= statSync(SOURCE).mtimeMs) return { exe };
  const r = spawnSync("g++", ["-O2", "-std=c++17", SOURCE, "-o", exe, "-ldnnl"], { encoding: "utf8" });
  if (r.status !== 0) return { unavailable: `build failed: ${(r.stderr || "").split("\n")[0]}` };
  return { exe };
}

export interface PeerShape {
  precision: "f32" | "bf16";
  m: number;
  k: number;
  n: number;
}

/** Median seconds per shape (key `precision:MxKxN`), null for a shape oneDNN refused. */
export function runOneDnn(
  exe: string,
  shapes: PeerShape[],
  repeats: number,
  threads: number,
): Map<string, number | null> {
  const args = [String(repeats), ...shapes.map((s) => `${s.precision}:${s.m}:${s.k}:${s.n}`)];
  const r = spawnSync(exe, args, {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: String(threads), DNNL_VERBOSE: "0" },
    maxBuffer: 1 << 20,
  });
  const out = new Map<string, number | null>();
  for (const line of (r.stdout || "").split("\n")) {
    const p = line.trim().split(/\s+/);
    if (p.length !== 5) continue;
    const sec = Number(p[4]);
    out.set(`${p[0]}:${p[1]}x${p[2]}x${p[3]}`, Number.isFinite(sec) && sec > 0 ? sec : null);
  }
  return out;
}
