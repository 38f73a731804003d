/**
 * The pack cache (src/model/pack-cache.ts, EngineOptions.packCache) on the tiny fixture: the first
 * bf16 / int8 load writes the file, the next one reads it, and the model computes bit-identically
 * either way; a damaged, foreign or stale file is ignored and rewritten; f32 never uses one.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { getKernels } from "../../src/kernels/index.ts";
import { OcrEngine } from "../../src/pipeline/engine.ts";
import { FixtureCase } from "../helpers/fixture-case.ts";
import { FIXTURES, REPO, tempDir } from "../helpers/paths.ts";
import { randArray, rng } from "../kernels/helpers.ts";

const CASE = "v2_page_tiles";

async function outputs(engine: OcrEngine, fc: FixtureCase): Promise<number[]> {
  const lm = engine.lm;
  const st = lm.newState(16);
  const logits = lm.prefill(st, randArray(rng(3), 5 * lm.hiddenSize), 5);
  const views = await fc.loadViews();
  const img = engine.vision.encodeImage({
    global: views.global.pixels,
    globalSize: views.global.size,
    tiles: [],
    tileSize: 768,
  });
  return [...logits, ...lm.decode(st, 7), ...img.subarray(0, 4096)];
}

function load(dir: string, precision: "bf16" | "int8" | "f32", cache: string): OcrEngine {
  return OcrEngine.load(dir, { precision, packCache: cache, kernels: getKernels() });
}

for (const precision of ["bf16", "int8"] as const) {
  test(`${precision}: written once, then read back; the same outputs; a damaged file is rewritten`, async () => {
    const fc = FixtureCase.load(CASE);
    const cache = tempDir();
    const plain = OcrEngine.load(fc.modelDir, { precision, kernels: getKernels() });
    assert.equal(plain.packCacheStatus, "off");
    const want = await outputs(plain, fc);
    plain.close();

    const first = load(fc.modelDir, precision, cache);
    assert.match(first.packCacheStatus, /^written /);
    assert.deepEqual(await outputs(first, fc), want);
    first.close();
    const files = readdirSync(cache);
    assert.equal(files.length, 1, `one cache file, no temporary left: ${files}`);
    assert.match(files[0], new RegExp(`^packed-${precision}-[0-9a-f]{16}\\.bin$`));

    const second = load(fc.modelDir, precision, cache);
    assert.match(second.packCacheStatus, /^read /);
    assert.deepEqual(await outputs(second, fc), want);
    second.close();

    const file = join(cache, files[0]);
    truncateSync(file, statSync(file).size - 100); // damaged trailer
    const third = load(fc.modelDir, precision, cache);
    assert.match(third.packCacheStatus, /^written /);
    assert.deepEqual(await outputs(third, fc), want);
    third.close();

    truncateSync(file, 1000); // trailer gone entirely
    writeFileSync(file, Buffer.concat([Buffer.alloc(1000), Buffer.from("garbage!garbage!DSOCRPK1")]));
    const fourth = load(fc.modelDir, precision, cache);
    assert.match(fourth.packCacheStatus, /^written /);
    fourth.close();
    assert.match(load(fc.modelDir, precision, cache).packCacheStatus, /^read /);
  });
}

test("the key follows the checkpoint: a touched safetensors file gets a new cache file", () => {
  const fc = FixtureCase.load(CASE);
  const dir = tempDir();
  cpSync(fc.modelDir, dir, { recursive: true });
  const first = OcrEngine.load(dir, { precision: "bf16", packCache: true, kernels: getKernels() });
  assert.match(first.packCacheStatus, new RegExp(`^written ${join(dir, ".dsocr-cache")}`));
  first.close();
  const st = readdirSync(dir).find((f) => f.endsWith(".safetensors")) as string;
  const t = new Date(Date.now() + 5000);
  utimesSync(join(dir, st), t, t);
  const second = OcrEngine.load(dir, { precision: "bf16", packCache: true, kernels: getKernels() });
  assert.match(second.packCacheStatus, /^written /);
  second.close();
  assert.equal(readdirSync(join(dir, ".dsocr-cache")).length, 2);
});

test("f32 never uses the cache; an unwritable cache directory leaves the load as it is", () => {
  const fc = FixtureCase.load(CASE);
  const cache = tempDir();
  const e = OcrEngine.load(fc.modelDir, { precision: "f32", packCache: cache, kernels: getKernels() });
  assert.equal(e.packCacheStatus, "off");
  e.close();
  assert.equal(readdirSync(cache).length, 0);
  const blocker = join(tempDir(), "file");
  writeFileSync(blocker, "not a directory");
  const b = OcrEngine.load(fc.modelDir, { precision: "bf16", packCache: join(blocker, "sub"), kernels: getKernels() });
  assert.match(b.packCacheStatus, /^not written \(/);
  b.close();
  assert.ok(!existsSync(join(blocker, "sub")));
});

test("CLI --pack-cache <dir>: the first run writes the cache, the second reads it; the same pages", () => {
  const model = join(FIXTURES, "models", "tiny-v2");
  const cache = tempDir();
  const run = () => {
    const r = spawnSync(
      process.execPath,
      [
        join(REPO, "bin", "dsocr.js"),
        join(FIXTURES, "images", "small.png"),
        "--model",
        model,
        "--precision",
        "bf16",
        "--max-tiles",
        "0",
        "--max-tokens",
        "6",
        "--pack-cache",
        cache,
        "--json",
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const doc = (JSON.parse(r.stdout) as { documents: { pages: { tokens: number[]; raw: string }[] }[] }).documents[0];
    return doc.pages.map((p) => ({ tokens: p.tokens, raw: p.raw }));
  };
  const first = run();
  assert.equal(readdirSync(cache).length, 1);
  const mtime = statSync(join(cache, readdirSync(cache)[0])).mtimeMs;
  assert.deepEqual(run(), first);
  assert.equal(statSync(join(cache, readdirSync(cache)[0])).mtimeMs, mtime, "read, not rewritten");
});

test("a cache that matches but cannot be read (mapped) is left alone; the load goes on from the checkpoint", async () => {
  const fc = FixtureCase.load(CASE);
  const cache = tempDir();
  const k = getKernels();
  const first = OcrEngine.load(fc.modelDir, { precision: "bf16", packCache: cache, kernels: k });
  assert.match(first.packCacheStatus, /^written /);
  const want = await outputs(first, fc);
  first.close();
  const file = join(cache, readdirSync(cache)[0]);
  const mtime = statSync(file).mtimeMs;
  const noMap: typeof k = {
    ...k,
    loadPacked: () => {
      throw new Error("loadPacked: No such device");
    },
  };
  const second = OcrEngine.load(fc.modelDir, { precision: "bf16", packCache: cache, kernels: noMap });
  assert.match(second.packCacheStatus, /^not read \(.*No such device\)$/);
  assert.deepEqual(await outputs(second, fc), want);
  second.close();
  assert.equal(statSync(file).mtimeMs, mtime, "not rewritten");
});
