/**
 * Batched-decode throughput (issue 10): loads the language model of a checkpoint, prefills B short
 * sequences (token embeddings of a few ids each) and times `steps` batched decode steps
 * (`LanguageModel.decodeBatch`) per batch size. Prints total decode tokens/s per B.
 *
 * Usage: node --import tsx scripts/bench-batch.ts <checkpoint dir> [--threads 2] [--precision f32]
 *        [--batches 1,2,4,8] [--steps 16] [--warmup 4]
 *
 * In f32 the bf16 weights are read from the memory-mapped checkpoint: run it twice (or after
 * something else read the files) so the page cache is warm, or the first batch sizes time disk reads
 * of the experts they touch first.
 */
import { parseArgs } from "node:util";
import { openCheckpoint } from "../src/checkpoint/safetensors.ts";
import { loadConfig } from "../src/config/config.ts";
import { getKernels } from "../src/kernels/index.ts";
import type { Precision } from "../src/kernels/types.ts";
import { LanguageModel } from "../src/model/language-model.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: "string", default: "2" },
    precision: { type: "string", default: "f32" },
    batches: { type: "string", default: "1,2,4,8" },
    steps: { type: "string", default: "16" },
    warmup: { type: "string", default: "4" },
  },
});
const dir = positionals[0] ?? "/tmp/full-v2";
const k = getKernels();
k.setThreads(Number(values.threads));
const precision = values.precision as Precision;
const t0 = performance.now();
const ckpt = openCheckpoint(dir);
const lm = LanguageModel.load({ ckpt, k, precision, role: "lm" }, loadConfig(dir).language);
console.log(
  `${dir}: LM loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; kernels ${k.name}, ${k.getThreads()} threads, ${precision}`,
);
const steps = Number(values.steps);
const tokenId = (b: number, s: number) => (b * 7919 + s * 104729 + 13) % lm.vocabSize;
for (const b of values.batches.split(",").map(Number)) {
  const states = Array.from({ length: b }, (_, i) => {
    const n = 4 + (i % 5); // different lengths
    const st = lm.newState(n + steps + Number(values.warmup));
    lm.prefill(st, lm.embed(Array.from({ length: n }, (_, j) => tokenId(i, j))), n);
    return st;
  });
  lm.decodeBatch(
    states,
    states.map((_, i) => tokenId(i, 100)),
  ); // warm-up
  const t = performance.now();
  for (let s = 0; s < steps; s++) {
    lm.decodeBatch(
      states,
      states.map((_, i) => tokenId(i, s)),
    );
  }
  const sec = (performance.now() - t) / 1000;
  console.log(
    `B = ${b}: ${steps} steps in ${sec.toFixed(2)} s = ${((steps * 1000) / (sec * 1000)).toFixed(2)} steps/s, ${((b * steps) / sec).toFixed(2)} tokens/s total, ${((sec / steps) * 1000).toFixed(0)} ms/step`,
  );
}
ckpt.close();
