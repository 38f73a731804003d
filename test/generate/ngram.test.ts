import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  bannedTokens,
  NGRAM_HF_INFER,
  NGRAM_VLLM_IMAGE,
  NGRAM_VLLM_PDF,
  NgramGuard,
  type NgramOptions,
} from "../../src/generate/ngram.ts";
import { SeededRandom } from "../../src/generate/sampling.ts";
import { FIXTURES } from "../helpers/paths.ts";

interface NgramCase {
  impl: string;
  sequence: string;
  params: {
    ngram_size?: number;
    window_size?: number;
    whitelist_token_ids?: number[] | null;
    no_repeat_ngram_size?: number;
  };
  prompt_ids?: number[];
  generated_ids: number[];
  banned_by_step: Record<string, number[]>;
}

const data = JSON.parse(readFileSync(join(FIXTURES, "ngram", "ngram_cases.json"), "utf8")) as {
  cases: NgramCase[];
};

function optionsOf(c: NgramCase): { opts: NgramOptions; prompt: number[] } {
  if (c.impl === "vllm_official") {
    return {
      opts: {
        ngramSize: c.params.ngram_size!,
        window: c.params.window_size!,
        whitelist: c.params.whitelist_token_ids ?? [],
      },
      prompt: c.prompt_ids ?? [],
    };
  }
  assert.match(c.impl, /^hf_transformers/);
  return { opts: { ngramSize: c.params.no_repeat_ngram_size!, window: "all" }, prompt: c.prompt_ids! };
}

const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

test("the vector file has both implementations", () => {
  assert.ok(data.cases.length >= 48);
  assert.ok(data.cases.some((c) => c.impl === "vllm_official"));
  assert.ok(data.cases.some((c) => c.impl.startsWith("hf_transformers")));
});

for (const [i, c] of data.cases.entries()) {
  const label = `${i} ${c.impl} ${c.sequence} ${JSON.stringify(c.params)}`;
  test(`vector ${label}: every step, brute force and incremental`, () => {
    const { opts, prompt } = optionsOf(c);
    for (const k of Object.keys(c.banned_by_step)) {
      const t = Number(k);
      assert.ok(Number.isInteger(t) && t >= 0 && t <= c.generated_ids.length, `step key ${k}`);
    }
    const guard = new NgramGuard(opts, prompt);
    for (let t = 0; t <= c.generated_ids.length; t++) {
      const expected = [...(c.banned_by_step[String(t)] ?? [])].sort((a, b) => a - b);
      const gen = c.generated_ids.slice(0, t);
      assert.deepEqual(sorted(bannedTokens(opts, prompt, gen)), expected, `brute t=${t}`);
      assert.deepEqual(sorted(guard.banned()), expected, `incremental t=${t}`);
      if (t < c.generated_ids.length) guard.push(c.generated_ids[t]);
    }
  });
}

test("presets", () => {
  assert.deepEqual(
    { ...NGRAM_VLLM_PDF, whitelist: [...NGRAM_VLLM_PDF.whitelist!] },
    { ngramSize: 20, window: 50, whitelist: [128821, 128822], scope: "generated" },
  );
  assert.equal(NGRAM_VLLM_IMAGE.window, 90);
  assert.equal(NGRAM_HF_INFER.window, "all");
  assert.equal(NGRAM_HF_INFER.ngramSize, 20);
  assert.equal(NGRAM_HF_INFER.scope, "sequence");
});

test("ngramSize 0 disables; invalid settings throw", () => {
  const g = new NgramGuard({ ngramSize: 0, window: "all" }, [5, 5, 5, 5]);
  for (let i = 0; i < 10; i++) g.push(5);
  assert.equal(g.banned().size, 0);
  assert.equal(g.enabled, false);
  assert.equal(bannedTokens({ ngramSize: 0, window: 3 }, [], [5, 5, 5, 5]).size, 0);
  assert.throws(() => new NgramGuard({ ngramSize: -1, window: 3 }), RangeError);
  assert.throws(() => new NgramGuard({ ngramSize: 2.5, window: 3 }), RangeError);
  assert.throws(() => new NgramGuard({ ngramSize: 3, window: 0 }), RangeError);
  assert.throws(() => bannedTokens({ ngramSize: 3, window: 1.5 }, [], []), RangeError);
});

test("scope: the vLLM mode ignores the prompt, the HF mode searches it", () => {
  const prompt = [1, 2, 3];
  assert.deepEqual(sorted(bannedTokens({ ngramSize: 3, window: "all" }, prompt, [1, 2])), [3]);
  assert.deepEqual(sorted(bannedTokens({ ngramSize: 3, window: 10 }, prompt, [1, 2])), []);
  assert.deepEqual(sorted(bannedTokens({ ngramSize: 3, window: 10, scope: "sequence" }, prompt, [1, 2])), [3]);
  assert.deepEqual(sorted(bannedTokens({ ngramSize: 3, window: "all", scope: "generated" }, prompt, [1, 2])), []);
  const g = new NgramGuard({ ngramSize: 3, window: "all" }, prompt);
  assert.equal(g.length, 3);
  g.pushAll([1, 2]);
  assert.deepEqual(sorted(g.banned()), [3]);
});

/** Random sequences over a small alphabet (many repeats), every step, many settings. */
test("incremental guard equals the brute-force definition on random sequences", () => {
  const rng = new SeededRandom(99);
  const settings: NgramOptions[] = [
    { ngramSize: 1, window: 5 },
    { ngramSize: 1, window: "all" },
    { ngramSize: 2, window: 3 },
    { ngramSize: 2, window: "all" },
    { ngramSize: 3, window: 2 },
    { ngramSize: 3, window: 10, whitelist: [1] },
    { ngramSize: 4, window: 7 },
    { ngramSize: 4, window: "all", whitelist: [0, 2] },
    { ngramSize: 5, window: 50, scope: "sequence" },
    { ngramSize: 6, window: "all", scope: "generated" },
  ];
  for (const opts of settings) {
    for (let trial = 0; trial < 12; trial++) {
      const alphabet = 2 + (rng.nextUint32() % 4);
      const promptLen = rng.nextUint32() % 15;
      const prompt = Array.from({ length: promptLen }, () => rng.nextUint32() % alphabet);
      const gen = Array.from({ length: 120 }, () => rng.nextUint32() % alphabet);
      const g = new NgramGuard(opts, prompt);
      for (let t = 0; t <= gen.length; t++) {
        assert.deepEqual(
          sorted(g.banned()),
          sorted(bannedTokens(opts, prompt, gen.slice(0, t))),
          `${JSON.stringify(opts)} trial ${trial} t=${t}`,
        );
        if (t < gen.length) g.push(gen[t]);
      }
    }
  }
});

test("long random sequence with a prompt: incremental equals brute force", () => {
  const rng = new SeededRandom(7);
  const opts: NgramOptions = { ngramSize: 3, window: "all" };
  const prompt = Array.from({ length: 500 }, () => rng.nextUint32() % 40);
  const gen = Array.from({ length: 1500 }, () => rng.nextUint32() % 40);
  const g = new NgramGuard(opts, prompt);
  for (let t = 0; t <= gen.length; t++) {
    if (t % 50 === 0 || t > gen.length - 20) {
      assert.deepEqual(sorted(g.banned()), sorted(bannedTokens(opts, prompt, gen.slice(0, t))));
    }
    if (t < gen.length) g.push(gen[t]);
  }
});

test("performance: HF mode over a 1131-id prompt + 8000 generated ids is fast per step", () => {
  const rng = new SeededRandom(3);
  const prompt = [0, ...new Array(1121).fill(128815), 201, 128820, 21842, 270, 4940, 304, 2121, 7919, 16];
  // Text-like ids with a long repetition loop at the end (the worst case for bans).
  const gen: number[] = [];
  for (let i = 0; i < 6000; i++) gen.push(rng.nextUint32() % 5000);
  const loop = Array.from({ length: 37 }, () => rng.nextUint32() % 5000);
  while (gen.length < 8000) gen.push(...loop);
  gen.length = 8000;
  const g = new NgramGuard(NGRAM_HF_INFER, prompt);
  const t0 = performance.now();
  let bans = 0;
  for (const id of gen) {
    bans += g.banned().size;
    g.push(id);
  }
  const ms = performance.now() - t0;
  assert.ok(bans > 0);
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
  // Same answer as brute force at the end.
  assert.deepEqual(sorted(g.banned()), sorted(bannedTokens(NGRAM_HF_INFER, prompt, gen)));
});

/** Every prefix hashes to the same value: the buckets must still tell prefixes apart. */
class CollidingGuard extends NgramGuard {
  protected override hashAt(start: number): number {
    return start >= 0 ? 42 : 0;
  }
}

test("forced hash collisions: exact prefix comparison keeps the result correct", () => {
  const rng = new SeededRandom(11);
  for (const opts of [
    { ngramSize: 3, window: "all" },
    { ngramSize: 4, window: 9 },
    { ngramSize: 2, window: 4, whitelist: [1] },
  ] as NgramOptions[]) {
    const prompt = Array.from({ length: 10 }, () => rng.nextUint32() % 4);
    const gen = Array.from({ length: 200 }, () => rng.nextUint32() % 4);
    const g = new CollidingGuard(opts, prompt);
    for (let t = 0; t <= gen.length; t++) {
      assert.deepEqual(sorted(g.banned()), sorted(bannedTokens(opts, prompt, gen.slice(0, t))), `t=${t}`);
      if (t < gen.length) g.push(gen[t]);
    }
  }
});
