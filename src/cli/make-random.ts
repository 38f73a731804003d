/** `dsocr make-random`: writes a random-weight checkpoint with the real tensor names and shapes. */
import { makeRandomCheckpoint, type RandomPreset } from "../checkpoint/make-random.ts";

/** @returns the exit code */
export async function runMakeRandom(opts: {
  preset?: RandomPreset;
  config?: string;
  out: string;
  seed: number;
}): Promise<number> {
  if (!opts.preset && !opts.config) {
    process.stderr.write("dsocr make-random: pass --preset tiny-v2|full-v2 or --config <config.json>\n");
    return 2;
  }
  let last = 0;
  const t0 = performance.now();
  const r = await makeRandomCheckpoint({
    preset: opts.preset,
    config: opts.config,
    out: opts.out,
    seed: opts.seed,
    onProgress: (done, total) => {
      const pct = Math.floor((100 * done) / total);
      if (pct >= last + 10 || done === total) {
        last = pct;
        process.stderr.write(`make-random: ${pct}% of ${(total / 1e9).toFixed(2)} GB\n`);
      }
    },
  });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  process.stderr.write(
    `make-random: wrote ${r.tensorCount} tensors (${(r.totalBytes / 1e6).toFixed(1)} MB) to ${r.dir} in ${s} s\n`,
  );
  for (const n of r.notes) process.stderr.write(`make-random: note: ${n}\n`);
  process.stderr.write("make-random: random weights produce random text; use them for demos and benchmarks only\n");
  return 0;
}
