/**
 * Concurrent pages on one engine (issue 10): `OcrEngine.recognizeMany` / `PageQueue` decode pages
 * together in batched steps (decodeBatch with B > 1), results in page order and equal to
 * `recognize` page by page; per-page hooks (onToken, abort) and per-page errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { LmState } from "../../src/model/language-model.ts";
import { OcrEngine, type PageResult } from "../../src/pipeline/engine.ts";
import { openInput } from "../../src/pipeline/inputs.ts";
import type { PageOptions } from "../../src/pipeline/options.ts";
import { PageQueue } from "../../src/pipeline/page-queue.ts";
import type { RgbImage } from "../../src/preprocess/image.ts";
import { testKernels } from "../helpers/fixture-case.ts";
import { FIXTURES } from "../helpers/paths.ts";

let engine: OcrEngine;
const images: RgbImage[] = [];
const opts: PageOptions = { prompt: "free", maxTiles: 0, maxTokens: 6, ngram: { size: 20, window: 50 } };

before(async () => {
  engine = OcrEngine.load(join(FIXTURES, "models", "tiny-v2"), { kernels: await testKernels() });
  for (const f of ["small.png", "exif.jpg", "wide.png", "small.png"]) {
    const src = await openInput(join(FIXTURES, "images", f), 72);
    images.push(await src.page(0));
    src.close();
  }
});
after(() => engine.close());

const essentials = (r: PageResult) => ({ tokens: r.tokens, raw: r.raw, stop: r.stop, prompt: r.promptTokens });

test("recognizeMany with concurrency 3 batches the decode steps and equals recognize page by page", async () => {
  const single = images.map((img) => essentials(engine.recognize(img, { ...opts, maxTokens: 6 })));
  const sizes: number[] = [];
  const orig = engine.lm.decodeBatch.bind(engine.lm);
  engine.lm.decodeBatch = (states: readonly LmState[], ids: readonly number[]) => {
    sizes.push(states.length);
    return orig(states, ids);
  };
  const streamed: number[][] = images.map(() => []);
  try {
    const many = await engine.recognizeMany(images, opts, {
      concurrency: 3,
      hooks: (i) => ({ onToken: (id) => streamed[i].push(id) }),
    });
    assert.deepEqual(many.map(essentials), single);
    for (let i = 0; i < many.length; i++) assert.deepEqual(streamed[i], many[i].tokens);
  } finally {
    delete (engine.lm as { decodeBatch?: unknown }).decodeBatch;
  }
  assert.ok(Math.max(...sizes) >= 2, `batch sizes ${sizes}`);
  assert.ok(Math.max(...sizes) <= 3, `batch sizes ${sizes}`);
});

test("per-page abort and errors leave the other pages alone", async () => {
  const queue = new PageQueue(engine, { concurrency: 2 });
  const ctl = new AbortController();
  const pre = new AbortController();
  pre.abort(new Error("aborted before"));
  const a = queue.submit(images[0], opts, {
    signal: ctl.signal,
    onToken: () => ctl.abort(),
  });
  const b = queue.submit(images[1], opts, { signal: pre.signal });
  const c = queue.submit({ width: 0, height: 0, data: new Uint8Array(0) } as RgbImage, opts);
  const d = queue.submit(images[2], opts);
  const ra = await a;
  assert.equal(ra.stop, "aborted");
  assert.equal(ra.tokens.length, 1);
  await assert.rejects(b, /aborted before/);
  await assert.rejects(c);
  assert.deepEqual(essentials(await d), essentials(engine.recognize(images[2], opts)));
  await queue.drain();
  assert.equal(queue.pending, 0);
  assert.throws(() => new PageQueue(engine, { concurrency: 0 }), RangeError);
});
