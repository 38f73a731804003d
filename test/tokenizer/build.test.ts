import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildTokenizerJson, buildTokenizerObject, ocrPostProcessor } from "../../src/tokenizer/build.ts";
import { OCR_ADDED_TOKENS } from "../../src/tokenizer/special.ts";
import { TOKENIZER_DIR } from "../helpers/paths.ts";

const OFFICIAL_SHA256 = "a02f8fd5228c90256bb4f6554c34a579d48f909e5beb232dc4afad870b55a8b4";
const OFFICIAL_GIT_BLOB = "c93a1c4d2ecf31bb5a9ec39eb73dfbf915aaf77e";

test("buildTokenizerJson is byte-identical to the official tokenizer.json", () => {
  const bytes = Buffer.from(buildTokenizerJson(), "utf8");
  assert.equal(createHash("sha256").update(bytes).digest("hex"), OFFICIAL_SHA256);
  const blob = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
  assert.equal(blob, OFFICIAL_GIT_BLOB);
  const official = readFileSync(join(TOKENIZER_DIR, "tokenizer.json"));
  assert.equal(bytes.length, official.length);
  assert.ok(bytes.equals(official));
});

test("buildTokenizerObject: added tokens and post-processor equal the official structure", () => {
  const built = buildTokenizerObject();
  const official = JSON.parse(readFileSync(join(TOKENIZER_DIR, "tokenizer.json"), "utf8"));
  assert.deepEqual(built.added_tokens, official.added_tokens);
  assert.equal(built.added_tokens.length, 830);
  assert.deepEqual(built.post_processor, official.post_processor);
  assert.deepEqual(ocrPostProcessor(), official.post_processor);
  assert.deepEqual(Object.keys(built), Object.keys(official));
  assert.deepEqual(Object.keys(built.model), Object.keys(official.model));
  assert.deepEqual(built.model.merges.slice(0, 100), official.model.merges.slice(0, 100));
  assert.equal(built.model.merges.length, official.model.merges.length);
  const tail = built.added_tokens.slice(-12);
  assert.deepEqual(
    tail.map((t) => [t.id, t.content]),
    OCR_ADDED_TOKENS.map((t) => [t.id, t.content]),
  );
  // Fresh objects on every call.
  assert.notEqual(buildTokenizerObject().added_tokens, built.added_tokens);
});
