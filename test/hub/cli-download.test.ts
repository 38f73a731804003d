/** `dsocr download`: the snapshot directory on stdout, plain progress lines off a TTY, exit 1 with one line on errors. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO, SHARED, tempDir } from "../helpers/paths.ts";
import { FakeHub, tinyRepo } from "./fake-hub.ts";

const MODEL = "deepseek-ai/DeepSeek-OCR-2";
const COMMIT = "c".repeat(40);
let hub: FakeHub;
before(async () => {
  hub = await new FakeHub([tinyRepo(MODEL, COMMIT)]).start();
});
after(() => hub.close());

/** Runs the CLI without blocking this process (the fake hub answers from here). */
function dsocr(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO, "bin", "dsocr.js"), ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

test("dsocr download prints the snapshot directory; a second run finds everything cached", async () => {
  const cache = tempDir("dsocr-hub-");
  const env = { HF_ENDPOINT: hub.url, HF_HOME: join(cache, "home") };
  const r = await dsocr(["download", "--cache-dir", cache], env);
  assert.equal(r.status, 0, r.stderr);
  const dir = join(cache, "models--deepseek-ai--DeepSeek-OCR-2", "snapshots", COMMIT);
  assert.equal(r.stdout, `${dir}\n`);
  assert.ok(existsSync(join(dir, "model-00001-of-000001.safetensors")));
  assert.match(r.stderr, /download: deepseek-ai\/DeepSeek-OCR-2: 6 files, 17\.7 MB/);
  assert.match(r.stderr, /model-00001-of-000001\.safetensors: 50% of 17\.5 MB/);
  assert.match(r.stderr, /model-00001-of-000001\.safetensors: done/);
  const again = await dsocr(["download", `${MODEL}@${COMMIT}`, "--cache-dir", cache], env);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, `${dir}\n`);
  assert.match(again.stderr, /all in the cache/);
});

test("dsocr download fails with exit 1 and one line that says what to do", async () => {
  const cache = tempDir("dsocr-hub-");
  const r = await dsocr(["download", "someone/missing", "--cache-dir", cache], {
    HF_ENDPOINT: hub.url,
    HF_HOME: cache,
  });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^dsocr download: someone\/missing was not found at .*HTTP 404.*HF_TOKEN/);
  const offline = await dsocr(["download", "--cache-dir", cache], { HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: "1" });
  assert.equal(offline.status, 1);
  assert.match(offline.stderr, /^dsocr download: cannot download deepseek-ai\/DeepSeek-OCR-2: HF_HUB_OFFLINE is set/);
});

test("the main job with no --model downloads the default model into the cache first, then reads the image", async () => {
  const home = tempDir("dsocr-hub-");
  const out = tempDir();
  const image = join(SHARED, "corpus", "img", "gray_baiona.png");
  const args = [image, "--out", out, "--max-tiles", "0", "--max-tokens", "2", "--progress", "plain"];
  const r = await dsocr(args, { HF_ENDPOINT: hub.url, HF_HOME: home });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /download: deepseek-ai\/DeepSeek-OCR-2: 6 files/);
  assert.ok(existsSync(join(out, "gray_baiona.json")));
  const doc = JSON.parse(readFileSync(join(out, "gray_baiona.json"), "utf8"));
  assert.equal(doc.model, join(home, "hub", "models--deepseek-ai--DeepSeek-OCR-2", "snapshots", COMMIT));
  // Offline, the cached copy is used without the network.
  const again = await dsocr(args, { HF_HOME: home, HF_HUB_OFFLINE: "1" });
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /download:/);
});
