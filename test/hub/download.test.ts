/**
 * `downloadModel` against a local imitation of the Hub (fake-hub.ts): the Python cache layout,
 * only the needed files, resume with Range, tokens, one-line errors, and a model the engine loads.
 */
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type DownloadProgress, downloadModel, MODEL_FILES } from "../../src/hub/download.ts";
import { HubError } from "../../src/hub/errors.ts";
import { resolveModel } from "../../src/hub/resolve.ts";
import { OcrEngine } from "../../src/pipeline/engine.ts";
import { testKernels } from "../helpers/fixture-case.ts";
import { tempDir } from "../helpers/paths.ts";
import { etagOf, FakeHub, sha256, tinyRepo } from "./fake-hub.ts";

const REPO = "deepseek-ai/DeepSeek-OCR-2";
const COMMIT = "1".repeat(40);
const SHARD = "model-00001-of-000001.safetensors";
const STORAGE = "models--deepseek-ai--DeepSeek-OCR-2";
const repo = tinyRepo(REPO, COMMIT);
let hub: FakeHub;

before(async () => {
  hub = await new FakeHub([repo]).start();
});
after(() => hub.close());

function fresh(): { cache: string; env: Record<string, string> } {
  hub.requests.length = 0;
  hub.faults = {};
  const cache = tempDir("dsocr-hub-");
  // An environment that points nowhere real: no token, no HF_HOME of the machine.
  return { cache, env: { HF_HOME: join(cache, "hf-home"), HF_ENDPOINT: hub.url } };
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HubError, `not a HubError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "one line");
    return e;
  }
  assert.fail("did not throw");
}

test("download writes the Python cache layout: refs/main, snapshot symlinks into blobs, .no_exist", async () => {
  const { cache, env } = fresh();
  const events: DownloadProgress[] = [];
  const r = await downloadModel(REPO, { cacheDir: cache, env, onProgress: (p) => events.push(p) });
  const storage = join(cache, STORAGE);
  const snapshot = join(storage, "snapshots", COMMIT);
  assert.equal(r.dir, snapshot);
  assert.equal(r.commit, COMMIT);
  assert.equal(readFileSync(join(storage, "refs", "main"), "utf8"), COMMIT);
  const wanted = [
    "config.json",
    "model.safetensors.index.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "processor_config.json",
    SHARD,
  ];
  assert.deepEqual(readdirSync(snapshot).sort(), [...wanted].sort());
  for (const f of wanted) {
    const content = repo.files.get(f)!;
    const etag = etagOf(f, content);
    assert.ok(lstatSync(join(snapshot, f)).isSymbolicLink(), f);
    assert.equal(readlinkSync(join(snapshot, f)), `../../blobs/${etag}`, f);
    assert.deepEqual(readFileSync(join(storage, "blobs", etag)), content, f);
  }
  assert.equal(etagOf(SHARD, repo.files.get(SHARD)!), sha256(repo.files.get(SHARD)!), "LFS blobs are named by sha256");
  assert.ok(!readdirSync(join(storage, "blobs")).some((f) => f.endsWith(".incomplete")));
  // tokenizer.json is not in the repo: recorded as the Python tools do.
  assert.ok(existsSync(join(storage, ".no_exist", COMMIT, "tokenizer.json")));
  // Only the needed files were fetched.
  for (const skipped of ["README.md", "modeling_deepseekocr2.py", "assets/fig1.png", "stray.safetensors"]) {
    assert.equal(hub.requestsFor(`/resolve/${COMMIT}/${skipped}`).length, 0, skipped);
  }
  const total = wanted.reduce((a, f) => a + repo.files.get(f)!.length, 0);
  assert.equal(r.downloadedBytes, total);
  assert.equal(events[0].event, "plan");
  assert.equal(events[0].totalBytes, total);
  assert.deepEqual(
    events
      .filter((e) => e.event === "done")
      .map((e) => e.file)
      .sort(),
    wanted.filter((f) => !f.endsWith("index.json")).sort(),
  );
  assert.equal(events.at(-1)?.bytes, total);

  // A second run fetches nothing.
  hub.requests.length = 0;
  const again = await downloadModel(REPO, { cacheDir: cache, env });
  assert.equal(again.downloadedBytes, 0);
  assert.equal(hub.requestsFor("/resolve/").length, 0);
});

test("the downloaded model is found offline by resolveModel and loads in the engine", async () => {
  const { cache, env } = fresh();
  await downloadModel(REPO, { cacheDir: cache, env });
  hub.requests.length = 0;
  const offline = { HF_HUB_OFFLINE: "1", HF_HUB_CACHE: cache, HF_HOME: env.HF_HOME };
  const found = await resolveModel(undefined, { env: offline });
  assert.deepEqual(found, {
    dir: join(cache, STORAGE, "snapshots", COMMIT),
    source: "cache",
    repo: REPO,
    commit: COMMIT,
  });
  assert.equal(hub.requests.length, 0, "no network");
  const engine = OcrEngine.load(found.dir, { kernels: await testKernels() });
  try {
    assert.equal(engine.dir, found.dir);
    assert.equal(engine.tokenizer.encode("<image>").at(-1), 128815);
  } finally {
    engine.close();
  }
});

test("a partial blobs/<sha256>.incomplete is resumed with a Range request", async () => {
  const { cache, env } = fresh();
  const content = repo.files.get(SHARD)!;
  const blobs = join(cache, STORAGE, "blobs");
  mkdirSync(blobs, { recursive: true });
  const have = 5_000_000;
  writeFileSync(join(blobs, `${sha256(content)}.incomplete`), content.subarray(0, have));
  const events: DownloadProgress[] = [];
  const r = await downloadModel(REPO, { cacheDir: cache, env, onProgress: (p) => events.push(p) });
  const ranges = hub.requestsFor(`/resolve/${COMMIT}/${SHARD}`).map((q) => q.headers.range);
  assert.ok(ranges.includes(`bytes=${have}-${content.length - 1}`), `ranges seen: ${ranges}`);
  assert.deepEqual(readFileSync(join(r.dir, SHARD)), content);
  assert.ok(events.some((e) => e.event === "resume" && e.file === SHARD && e.fileBytes === have));
  const small = [...repo.files].filter(([f]) => MODEL_FILES.includes(f)).reduce((a, [, b]) => a + b.length, 0);
  assert.equal(r.downloadedBytes, small + content.length - have);
});

test("a server that ignores Range restarts the file; a dropped connection is resumed", async () => {
  const { cache, env } = fresh();
  const content = repo.files.get(SHARD)!;
  const blobs = join(cache, STORAGE, "blobs");
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(blobs, `${sha256(content)}.incomplete`), Buffer.alloc(1000, 0xee)); // wrong bytes
  hub.faults.ignoreRange = true;
  const r = await downloadModel(REPO, { cacheDir: cache, env });
  assert.deepEqual(readFileSync(join(r.dir, SHARD)), content);

  const second = fresh();
  hub.faults.dropAfter = { path: SHARD, bytes: 3_000_000, times: 1 };
  const r2 = await downloadModel(REPO, { cacheDir: second.cache, env: second.env, retries: 2 });
  assert.deepEqual(readFileSync(join(r2.dir, SHARD)), content);
  const ranges = hub.requestsFor(`/resolve/${COMMIT}/${SHARD}`).map((q) => q.headers.range);
  assert.ok(
    ranges.some((x) => x?.startsWith("bytes=") && x !== "bytes=0-0"),
    `resumed with a Range request: ${ranges}`,
  );
});

test("the token goes as Authorization: Bearer to the Hub, not to the CDN it redirects to", async () => {
  const { cache, env } = fresh();
  hub.faults.token = "hf_secret";
  hub.faults.cdnRedirect = true;
  await rejectsWith(downloadModel(REPO, { cacheDir: cache, env }), "auth", /HTTP 401.*set HF_TOKEN/);
  // from HF_TOKEN
  hub.requests.length = 0;
  const r = await downloadModel(REPO, { cacheDir: cache, env: { ...env, HF_TOKEN: "hf_secret" } });
  assert.ok(existsSync(join(r.dir, SHARD)));
  const toHub = hub.requests.filter((q) => q.origin === "hub");
  assert.ok(toHub.length > 0 && toHub.every((q) => q.headers.authorization === "Bearer hf_secret"));
  const toCdn = hub.requests.filter((q) => q.origin === "cdn");
  assert.ok(toCdn.length > 0, "LFS files came from the CDN");
  assert.ok(
    toCdn.every((q) => q.headers.authorization === undefined),
    "no token to the CDN",
  );
  // from the token file in HF_HOME
  const other = fresh();
  hub.faults.token = "hf_secret";
  mkdirSync(other.env.HF_HOME, { recursive: true });
  writeFileSync(join(other.env.HF_HOME, "token"), "hf_secret\n");
  await downloadModel(REPO, { cacheDir: other.cache, env: other.env });
  // a wrong token
  await rejectsWith(
    downloadModel(REPO, { cacheDir: other.cache, env: other.env, token: "hf_wrong", revision: COMMIT }),
    "auth",
    /refused the access token.*HF_TOKEN/,
  );
});

test("HTTP errors give one-line messages that say what to do", async () => {
  const { cache, env } = fresh();
  await rejectsWith(
    downloadModel("nobody/nothing", { cacheDir: cache, env }),
    "not-found",
    /nobody\/nothing was not found at .* \(HTTP 404\); check the repo id and --revision .*HF_TOKEN/,
  );
  await rejectsWith(
    downloadModel(`${REPO}@v9`, { cacheDir: cache, env }),
    "not-found",
    /DeepSeek-OCR-2@v9 was not found .*HTTP 404/,
  );
  hub.faults.gated = true;
  await rejectsWith(downloadModel(REPO, { cacheDir: cache, env }), "auth", /HTTP 403.*accept its terms.*HF_TOKEN/);
  hub.faults.gated = false;
  await rejectsWith(downloadModel("not a repo", { cacheDir: cache, env }), "bad-spec", /org\/name/);
  await rejectsWith(
    downloadModel(REPO, { cacheDir: cache, env: { ...env, HF_HUB_OFFLINE: "1" } }),
    "offline",
    /HF_HUB_OFFLINE is set/,
  );
  // Nothing listens on a closed port.
  const closed = await new FakeHub([]).start();
  const url = closed.url;
  await closed.close();
  await rejectsWith(
    downloadModel(REPO, { cacheDir: cache, env, endpoint: url }),
    "network",
    /cannot download .*ECONNREFUSED.*network/,
  );
  assert.equal(existsSync(join(cache, STORAGE, "refs")), false, "no ref for a failed download");
});

test("a checksum mismatch is an error and the bad partial file is removed", async () => {
  const { cache, env } = fresh();
  const content = repo.files.get(SHARD)!;
  const bad = Buffer.from(content);
  bad[bad.length - 1] ^= 0xff;
  hub.faults.corrupt = { path: SHARD, content: bad };
  await rejectsWith(
    downloadModel(REPO, { cacheDir: cache, env }),
    "corrupt",
    /does not match its sha256 checksum; run the command again/,
  );
  const blobs = readdirSync(join(cache, STORAGE, "blobs"));
  assert.ok(!blobs.includes(sha256(content)) && !blobs.includes(`${sha256(content)}.incomplete`));
});

test("an aborted download keeps its partial file for the next run", async () => {
  const { cache, env } = fresh();
  const controller = new AbortController();
  const content = repo.files.get(SHARD)!;
  await rejectsWith(
    downloadModel(REPO, {
      cacheDir: cache,
      env,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.event === "data" && p.file === SHARD && p.fileBytes > 1_000_000) controller.abort();
      },
    }),
    "aborted",
    /interrupted; run the same command again to resume/,
  );
  const partial = join(cache, STORAGE, "blobs", `${sha256(content)}.incomplete`);
  assert.ok(existsSync(partial));
  const r = await downloadModel(REPO, { cacheDir: cache, env });
  assert.deepEqual(readFileSync(join(r.dir, SHARD)), content);
});
