/** canonicalJson / settingsHash. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalJson, settingsHash } from "../../src/pipeline/hashes.ts";

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
