/**
 * The batched generation driver (issue 10): per-sequence guard / sampler / stop / abort /
 * callbacks, sequences joining and leaving between steps, and greedy (and seeded sampling) results
 * equal to the single-sequence loop on the tiny-v2 language model.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { loadConfig } from "../../src/config/config.ts";
import { BatchDecoder } from "../../src/generate/batch.ts";
import { type GenerateOptions, type GenerateResult, generate } from "../../src/generate/generate.ts";
import { LanguageModel, type LmState } from "../../src/model/language-model.ts";
import { testKernels } from "../helpers/fixture-case.ts";
import { FIXTURES } from "../helpers/paths.ts";

const MODEL = join(FIXTURES, "models", "tiny-v2");
let ckpt: ReturnType<typeof openCheckpoint>;
let lm: LanguageModel;

before(async () => {
  ckpt = openCheckpoint(MODEL);
  lm = LanguageModel.load({ ckpt, k: await testKernels() }, loadConfig(MODEL).language);
});
after(() => ckpt.close());

function prompt(n: number, salt: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + salt * 104729 + 13) % lm.vocabSize);
}

function prefill(ids: number[]): { state: LmState; logits: Float32Array } {
  const state = lm.newState(ids.length + 32);
  return { state, logits: lm.prefill(state, lm.embed(ids), ids.length) };
}

function alone(ids: number[], opts: GenerateOptions): GenerateResult {
  const { state, logits } = prefill(ids);
  return generate(ids, logits, (id) => lm.decode(state, id), opts);
}

const step = (states: LmState[], ids: number[]) => lm.decodeBatch(states, ids);

interface Job {
  ids: number[];
  opts: GenerateOptions;
  /** Step before which it is added. */
  joinAt: number;
}

function runBatched(jobs: Job[], maxBatch?: number): { results: GenerateResult[]; batchSizes: number[] } {
  const dec = new BatchDecoder<LmState>(step, { maxBatch });
  const seqs: ReturnType<typeof dec.add>[] = [];
  const batchSizes: number[] = [];
  for (let s = 0; seqs.length < jobs.length || dec.size > 0; s++) {
    jobs.forEach((j, i) => {
      if (j.joinAt === s) {
        const { state, logits } = prefill(j.ids);
        seqs[i] = dec.add(state, j.ids, logits, j.opts);
      }
    });
    batchSizes.push(dec.size);
    if (dec.size > 0) dec.step();
  }
  return {
    results: seqs.map((q) => {
      assert.ok(q.result, "finished");
      return q.result;
    }),
    batchSizes,
  };
}

const greedy = (maxNewTokens: number, ngram: GenerateOptions["ngram"] = { size: 3, window: 50 }): GenerateOptions => ({
  maxNewTokens,
  ngram,
  eosTokenId: lm.config.eosTokenId,
});

test("greedy: batched results equal the single-sequence loop (joining, leaving, own guards and limits)", () => {
  const jobs: Job[] = [
    { ids: prompt(5, 1), opts: greedy(12), joinAt: 0 },
    { ids: prompt(9, 2), opts: greedy(4, { size: 2, window: "all" }), joinAt: 0 },
    { ids: prompt(3, 3), opts: greedy(10, { size: 0, window: 50 }), joinAt: 2 },
    { ids: prompt(14, 4), opts: { ...greedy(7), maxTotalTokens: 18 }, joinAt: 5 },
  ];
  const { results, batchSizes } = runBatched(jobs);
  jobs.forEach((j, i) => {
    const ref = alone(j.ids, j.opts);
    assert.deepEqual(results[i].ids, ref.ids, `sequence ${i}`);
    assert.equal(results[i].stop, ref.stop, `sequence ${i}`);
    assert.deepEqual(results[i].steps, ref.steps, `sequence ${i}`);
  });
  assert.equal(results[3].ids.length, 4); // maxTotalTokens 18 with a 14-id prompt
  assert.ok(Math.max(...batchSizes) >= 3, `batch sizes ${batchSizes}`);
  // maxBatch chunks the model call without changing the outcome.
  const chunked = runBatched(jobs, 2).results;
  for (let i = 0; i < jobs.length; i++) assert.deepEqual(chunked[i].ids, results[i].ids);
});

test("seeded sampling: each sequence keeps its own sampler", () => {
  const sampled = (seed: number): GenerateOptions => ({
    ...greedy(6),
    sampling: { temperature: 0.8, topP: 0.9, seed },
  });
  const jobs: Job[] = [
    { ids: prompt(4, 5), opts: sampled(1), joinAt: 0 },
    { ids: prompt(4, 5), opts: sampled(2), joinAt: 1 },
  ];
  const { results } = runBatched(jobs);
  for (let i = 0; i < jobs.length; i++) assert.deepEqual(results[i].ids, alone(jobs[i].ids, jobs[i].opts).ids);
});

test("abort and callbacks are per sequence; a throwing callback fails only its sequence", () => {
  const ctl = new AbortController();
  const seen: number[][] = [[], [], []];
  const dec = new BatchDecoder<LmState>(step);
  const done: number[] = [];
  const add = (i: number, opts: GenerateOptions) => {
    const ids = prompt(4 + i, 10 + i);
    const { state, logits } = prefill(ids);
    return dec.add(state, ids, logits, opts, () => done.push(i));
  };
  const a = add(0, {
    ...greedy(20),
    signal: ctl.signal,
    onToken: (id, s) => {
      seen[0].push(id);
      if (s === 2) ctl.abort();
    },
  });
  const b = add(1, { ...greedy(6), onToken: (id) => seen[1].push(id) });
  const c = add(2, {
    ...greedy(6),
    onToken: (id, s) => {
      seen[2].push(id);
      if (s === 1) throw new Error("callback failed");
    },
  });
  dec.runToEnd();
  assert.equal(a.result?.stop, "aborted");
  assert.equal(a.result?.ids.length, 3);
  assert.deepEqual(seen[0], a.result?.ids);
  assert.deepEqual(b.result?.ids, alone(prompt(5, 11), greedy(6)).ids);
  assert.deepEqual(seen[1], b.result?.ids);
  assert.equal(c.result, null);
  assert.match(String(c.error), /callback failed/);
  assert.equal(seen[2].length, 2);
  assert.deepEqual(done.sort(), [0, 1, 2]);
  // Adding with an already aborted signal throws its reason and adds nothing.
  const { state, logits } = prefill(prompt(3, 1));
  assert.throws(() => dec.add(state, prompt(3, 1), logits, { ...greedy(3), signal: ctl.signal }));
  assert.equal(dec.size, 0);
});

test("a failing model call fails the sequences it was feeding and is rethrown", () => {
  let calls = 0;
  const dec = new BatchDecoder<number>(
    (states) => {
      calls++;
      if (calls === 2) throw new Error("model failed");
      return states.map(() => Float32Array.of(0, 1, 0));
    },
    { maxBatch: 1 },
  );
  const opts = { maxNewTokens: 5, ngram: { size: 0, window: 50 }, eosTokenId: 0 } as GenerateOptions;
  const s1 = dec.add(1, [2], Float32Array.of(0, 1, 0), opts);
  const s2 = dec.add(2, [2], Float32Array.of(0, 1, 0), opts);
  assert.throws(() => dec.step(), /model failed/);
  assert.equal(dec.size, 1);
  assert.equal(s1.done, false);
  assert.match(String(s2.error), /model failed/);
  dec.runToEnd();
  assert.deepEqual(s1.result?.ids, [1, 1, 1, 1, 1]);
  assert.equal(s1.result?.stop, "max-new-tokens");
});
