/** The Hugging Face cache settings and names, as huggingface_hub's constants.py and file_download.py. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  hfHome,
  hubCacheDir,
  hubEndpoint,
  hubToken,
  isCommitHash,
  isOffline,
  isSafeRelativePath,
  parseRepoSpec,
  repoFolderName,
} from "../../src/hub/cache.ts";
import { tempDir } from "../helpers/paths.ts";

test("hubCacheDir: HF_HUB_CACHE, then HUGGINGFACE_HUB_CACHE, then $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub", () => {
  assert.equal(hubCacheDir({ HOME: "/h" }), "/h/.cache/huggingface/hub");
  assert.equal(hubCacheDir({}), join(homedir(), ".cache", "huggingface", "hub"));
  assert.equal(hubCacheDir({ HOME: "/h", XDG_CACHE_HOME: "/xdg" }), "/xdg/huggingface/hub");
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: "/xdg", HF_HOME: "/hf" }), "/hf/hub");
  assert.equal(hubCacheDir({ HF_HOME: "/hf", HUGGINGFACE_HUB_CACHE: "/legacy" }), "/legacy");
  assert.equal(hubCacheDir({ HF_HUB_CACHE: "/new", HUGGINGFACE_HUB_CACHE: "/legacy" }), "/new");
  // expanduser / expandvars, as Python; an empty variable counts as unset
  assert.equal(hubCacheDir({ HOME: "/h", HF_HUB_CACHE: "~/models" }), "/h/models");
  assert.equal(hubCacheDir({ DATA: "/d", HF_HOME: "$DATA/hf" }), "/d/hf/hub");
  assert.equal(hubCacheDir({ HOME: "/h", HF_HOME: "" }), "/h/.cache/huggingface/hub");
  assert.equal(hfHome({ HOME: "/h" }), "/h/.cache/huggingface");
});

test("isOffline: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set to 1/ON/YES/TRUE", () => {
  assert.equal(isOffline({}), false);
  for (const v of ["1", "on", "YES", "true"]) assert.equal(isOffline({ HF_HUB_OFFLINE: v }), true, v);
  assert.equal(isOffline({ HF_HUB_OFFLINE: "0" }), false);
  assert.equal(isOffline({ TRANSFORMERS_OFFLINE: "1" }), true);
  assert.equal(
    isOffline({ HF_HUB_OFFLINE: "0", TRANSFORMERS_OFFLINE: "1" }),
    false,
    "HF_HUB_OFFLINE wins, as in Python",
  );
});

test("hubEndpoint: HF_ENDPOINT without trailing slash, else huggingface.co", () => {
  assert.equal(hubEndpoint({}), "https://huggingface.co");
  assert.equal(hubEndpoint({ HF_ENDPOINT: "https://hf-mirror.com/" }), "https://hf-mirror.com");
});

test("hubToken: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, HF_HUB_TOKEN, then the token file", () => {
  const home = tempDir("dsocr-hub-");
  assert.equal(hubToken({ HF_HOME: home }), undefined);
  writeFileSync(join(home, "token"), "hf_fromfile\n");
  assert.equal(hubToken({ HF_HOME: home }), "hf_fromfile");
  assert.equal(hubToken({ HF_HOME: home, HF_HUB_TOKEN: "hf_c" }), "hf_c");
  assert.equal(hubToken({ HF_HOME: home, HF_HUB_TOKEN: "hf_c", HUGGING_FACE_HUB_TOKEN: "hf_b" }), "hf_b");
  assert.equal(hubToken({ HF_HOME: home, HF_TOKEN: " hf_a\r\n", HUGGING_FACE_HUB_TOKEN: "hf_b" }), "hf_a");
  mkdirSync(join(home, "elsewhere"));
  writeFileSync(join(home, "elsewhere", "tok"), "hf_path");
  assert.equal(hubToken({ HF_HOME: home, HF_TOKEN_PATH: join(home, "elsewhere", "tok") }), "hf_path");
  assert.equal(hubToken({ HF_HOME: home, HF_TOKEN: "hf_a", HF_HUB_DISABLE_IMPLICIT_TOKEN: "1" }), undefined);
});

test("parseRepoSpec: org/name[@revision]; paths are not repo ids", () => {
  assert.deepEqual(parseRepoSpec("deepseek-ai/DeepSeek-OCR-2"), { repo: "deepseek-ai/DeepSeek-OCR-2" });
  assert.deepEqual(parseRepoSpec("deepseek-ai/DeepSeek-OCR-2@v1.0"), {
    repo: "deepseek-ai/DeepSeek-OCR-2",
    revision: "v1.0",
  });
  assert.deepEqual(parseRepoSpec("a/b@refs/pr/3"), { repo: "a/b", revision: "refs/pr/3" });
  for (const bad of [
    "./model",
    "../a/b",
    "/abs/path",
    "a/b/c",
    "model",
    "a--x/b",
    "a/b..c",
    "-a/b",
    "a/b.",
    "a/b@",
    "",
  ]) {
    assert.equal(parseRepoSpec(bad), undefined, bad);
  }
});

test("cache names: models--{org}--{name}, commit hashes, safe relative paths", () => {
  assert.equal(repoFolderName("deepseek-ai/DeepSeek-OCR-2"), "models--deepseek-ai--DeepSeek-OCR-2");
  assert.equal(isCommitHash("a".repeat(40)), true);
  assert.equal(isCommitHash("A".repeat(40)), false);
  assert.equal(isCommitHash("main"), false);
  assert.equal(isSafeRelativePath("model-00001-of-000002.safetensors"), true);
  assert.equal(isSafeRelativePath("refs/pr/1"), true);
  for (const bad of ["", "/etc/passwd", "../x", "a/../b", "a//b", "a\\b", "./a"])
    assert.equal(isSafeRelativePath(bad), false, bad);
});
