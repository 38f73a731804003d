/** sha256File / canonicalJson / settingsHash. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { canonicalJson, settingsHash, sha256File } from "../../src/pipeline/hashes.ts";
import { tempDir } from "../helpers/paths.ts";

test("sha256File: known digests", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "abc"), "abc");
  writeFileSync(join(dir, "empty"), "");
  assert.equal(await sha256File(join(dir, "abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(
    await sha256File(join(dir, "empty")),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  await assert.rejects(sha256File(join(dir, "missing")), { code: "ENOENT" });
});

test("settingsHash ignores key order, sees every value", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null }, u: undefined }),
    '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
  );
  const h = settingsHash({ prompt: "p", max_tokens: 10, ngram: { size: 20, window: 90 } });
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(settingsHash({ ngram: { window: 90, size: 20 }, max_tokens: 10, prompt: "p" }), h);
  assert.notEqual(settingsHash({ prompt: "p", max_tokens: 11, ngram: { size: 20, window: 90 } }), h);
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), TypeError);
  assert.throws(() => canonicalJson({ n: 1n }), TypeError);
  // shared (not cyclic) references and toJSON are fine
  const shared = { k: 1 };
  assert.equal(
    canonicalJson({ x: shared, y: [shared], d: new Date(0) }),
    '{"d":"1970-01-01T00:00:00.000Z","x":{"k":1},"y":[{"k":1}]}',
  );
});
