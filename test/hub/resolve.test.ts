/**
 * `resolveModel`: directories, repo ids in a Hugging Face cache written by hand in the Python
 * layout (refs, snapshot symlinks into blobs, .no_exist markers), and the one-line error that says
 * which command to run.
 */
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { after, before, test } from "node:test";
import type { HubError } from "../../src/hub/errors.ts";
import { DEFAULT_MODEL, hubCacheDir, resolveModel } from "../../src/hub/resolve.ts";
import { FIXTURES, tempDir } from "../helpers/paths.ts";
import { etagOf, FakeHub, tinyRepo } from "./fake-hub.ts";

const REPO = "deepseek-ai/DeepSeek-OCR-2";
const COMMIT = "ab".repeat(20);

/** Writes a repo into a cache as huggingface_hub does: blobs, relative symlinks, refs/main. */
function writePythonCache(
  cache: string,
  files: Map<string, Buffer>,
  opts: { ref?: string | null; skip?: string[]; noExist?: string[] } = {},
): string {
  const storage = join(cache, "models--deepseek-ai--DeepSeek-OCR-2");
  const snapshot = join(storage, "snapshots", COMMIT);
  mkdirSync(join(storage, "blobs"), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const [path, content] of files) {
    const blob = join(storage, "blobs", etagOf(path, content));
    if (!opts.skip?.includes(path)) writeFileSync(blob, content);
    const pointer = join(snapshot, path);
    mkdirSync(dirname(pointer), { recursive: true });
    symlinkSync(relative(dirname(pointer), blob), pointer);
  }
  for (const f of opts.noExist ?? []) {
    mkdirSync(join(storage, ".no_exist", COMMIT), { recursive: true });
    writeFileSync(join(storage, ".no_exist", COMMIT, f), "");
  }
  if (opts.ref !== null) {
    mkdirSync(join(storage, "refs"), { recursive: true });
    writeFileSync(join(storage, "refs", "main"), opts.ref ?? COMMIT);
  }
  return snapshot;
}

/** The files of a Python snapshot_download of the tiny repo (its tokenizer.json is absent). */
function pythonFiles(): Map<string, Buffer> {
  const files = new Map(tinyRepo(REPO, COMMIT).files);
  files.delete("assets/fig1.png");
  files.set("tokenizer.json", Buffer.from("{}"));
  return files;
}

test("an existing directory is used as is; a file or a non-repo name is a usage error", async () => {
  const dir = join(FIXTURES, "models", "tiny-v2");
  assert.deepEqual(await resolveModel(dir), { dir, source: "dir" });
  await assert.rejects(
    resolveModel(join(dir, "config.json")),
    (e: HubError) => e.code === "bad-spec" && /is a file/.test(e.message),
  );
  await assert.rejects(
    resolveModel("./no/such/dir"),
    (e: HubError) => e.code === "bad-spec" && /no such directory, and not a Hugging Face repo id/.test(e.message),
  );
});

test("a cache written in the Python layout is found, by ref or by commit", async () => {
  const cache = tempDir("dsocr-hub-");
  const env = { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" };
  const snapshot = writePythonCache(cache, pythonFiles(), { ref: `${COMMIT}\n` });
  const want = { dir: snapshot, source: "cache", repo: REPO, commit: COMMIT };
  assert.deepEqual(await resolveModel(undefined, { env }), want);
  assert.deepEqual(await resolveModel(REPO, { env }), want);
  assert.deepEqual(await resolveModel(`${REPO}@${COMMIT}`, { env }), want);
  assert.deepEqual(await resolveModel(REPO, { env: {}, cacheDir: cache, revision: COMMIT }), want);
  assert.equal(hubCacheDir(env), cache);
});

test("a snapshot counts only when complete: config, tokenizer files (or .no_exist), every shard", async () => {
  const env = (cache: string) => ({ HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" });
  // the shard's blob is missing: a dangling symlink
  let cache = tempDir("dsocr-hub-");
  writePythonCache(cache, pythonFiles(), { skip: ["model-00001-of-000001.safetensors"] });
  await assert.rejects(resolveModel(REPO, { env: env(cache) }), (e: HubError) => {
    assert.equal(e.code, "not-cached");
    assert.match(e.message, /is incomplete in the Hugging Face cache \(.* lacks model-00001-of-000001\.safetensors\)/);
    return true;
  });
  // no tokenizer.json and no marker: incomplete; with the .no_exist marker: complete
  const files = pythonFiles();
  files.delete("tokenizer.json");
  cache = tempDir("dsocr-hub-");
  writePythonCache(cache, files);
  await assert.rejects(resolveModel(REPO, { env: env(cache) }), /lacks tokenizer\.json/);
  cache = tempDir("dsocr-hub-");
  writePythonCache(cache, files, { noExist: ["tokenizer.json"] });
  assert.equal((await resolveModel(REPO, { env: env(cache) })).source, "cache");
  // an unsharded checkpoint
  const single = pythonFiles();
  single.set("model.safetensors", single.get("model-00001-of-000001.safetensors")!);
  single.delete("model-00001-of-000001.safetensors");
  single.delete("model.safetensors.index.json");
  cache = tempDir("dsocr-hub-");
  writePythonCache(cache, single);
  assert.equal((await resolveModel(REPO, { env: env(cache) })).source, "cache");
  // a snapshot without refs/main is not found by branch name (as try_to_load_from_cache)
  cache = tempDir("dsocr-hub-");
  writePythonCache(cache, pythonFiles(), { ref: null });
  await assert.rejects(resolveModel(REPO, { env: env(cache) }), /is not in the Hugging Face cache/);
});

test("a missing model gives one line with the command to run", async () => {
  const cache = tempDir("dsocr-hub-");
  const check = async (spec: string | undefined, opts: Parameters<typeof resolveModel>[1], line: string) => {
    await assert.rejects(resolveModel(spec, opts), (e: HubError) => {
      assert.equal(e.code, "not-cached");
      assert.equal(e.message, line);
      return true;
    });
  };
  const storage = join(cache, "models--deepseek-ai--DeepSeek-OCR-2");
  await check(
    undefined,
    { env: { HF_HUB_CACHE: cache } },
    `model ${DEFAULT_MODEL} is not in the Hugging Face cache (${storage}); run: npx dsocr download ${DEFAULT_MODEL}  (or pass --model <checkpoint dir>)`,
  );
  await check(
    undefined,
    { env: { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" } },
    `model ${DEFAULT_MODEL} is not in the Hugging Face cache (${storage}); run: HF_HUB_OFFLINE=0 npx dsocr download ${DEFAULT_MODEL}  (or pass --model <checkpoint dir>)`,
  );
  await check(
    `${REPO}@v2`,
    { env: { HF_HUB_OFFLINE: "1" }, cacheDir: cache, download: true },
    `model ${REPO}@v2 is not in the Hugging Face cache (${storage}); run: HF_HUB_OFFLINE=0 npx dsocr download ${REPO} --revision v2 --cache-dir ${cache}  (or pass --model <checkpoint dir>)`,
  );
});

let hub: FakeHub;
before(async () => {
  hub = await new FakeHub([tinyRepo(REPO, COMMIT)]).start();
});
after(() => hub.close());

test("download: true fetches a missing model, then it comes from the cache", async () => {
  const cache = tempDir("dsocr-hub-");
  const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url, HF_HOME: join(cache, "home") };
  const first = await resolveModel(REPO, { env, download: true });
  assert.equal(first.source, "download");
  assert.equal(first.commit, COMMIT);
  const second = await resolveModel(REPO, { env: { ...env, HF_HUB_OFFLINE: "1" }, download: true });
  assert.deepEqual(second, { ...first, source: "cache" });
});
