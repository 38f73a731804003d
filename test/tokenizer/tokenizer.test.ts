import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as special from "../../src/tokenizer/special.ts";
import { DeepSeekTokenizer, TokenizerError } from "../../src/tokenizer/tokenizer.ts";
import { FIXTURES, TOKENIZER_DIR, tempDir } from "../helpers/paths.ts";

interface EncodeCase {
  name: string;
  text: string;
  add_bos: boolean;
  ids: number[];
}
interface DecodeCase {
  name: string;
  ids: number[];
  skip_special_tokens: boolean;
  text: string;
}
const golden = JSON.parse(readFileSync(join(TOKENIZER_DIR, "golden_ids.json"), "utf8")) as {
  encode: EncodeCase[];
  decode: DecodeCase[];
  special_token_ids: Record<string, number>;
};

let builtin: DeepSeekTokenizer | undefined;
const getBuiltin = () => {
  builtin ??= DeepSeekTokenizer.builtin();
  return builtin;
};
let fromFile: DeepSeekTokenizer | undefined;
const getFromFile = () => {
  fromFile ??= DeepSeekTokenizer.load(TOKENIZER_DIR);
  return fromFile;
};

test("golden data has the expected number of cases", () => {
  assert.equal(golden.encode.length, 75);
  assert.equal(golden.decode.length, 126);
});

for (const [label, get] of [
  ["builtin (in-memory build)", getBuiltin],
  ["official tokenizer.json", getFromFile],
] as const) {
  test(`${label}: every golden encode case`, () => {
    const tok = get();
    for (const c of golden.encode) {
      assert.deepEqual(tok.encode(c.text, { addBos: c.add_bos }), c.ids, c.name);
    }
  });

  test(`${label}: every golden decode case (decode([]) === "")`, () => {
    const tok = get();
    for (const c of golden.decode) {
      assert.equal(tok.decode(c.ids, { skipSpecialTokens: c.skip_special_tokens }), c.text, c.name);
    }
  });
}

test("source tells which tokenizer was loaded", () => {
  assert.equal(getBuiltin().source, "builtin");
  assert.equal(getFromFile().source, join(TOKENIZER_DIR, "tokenizer.json"));
});

test("fixture model dirs (no tokenizer.json) load the in-memory build and give the golden ids", () => {
  for (const m of ["tiny-v1", "tiny-v2"]) {
    const tok = DeepSeekTokenizer.load(join(FIXTURES, "models", m));
    assert.equal(tok.source, "builtin");
    for (const c of golden.encode.slice(0, 10)) assert.deepEqual(tok.encode(c.text, { addBos: c.add_bos }), c.ids);
  }
});

test("special ids: constants equal the tokenizer and golden special_token_ids", () => {
  const tok = getBuiltin();
  for (const [token, id] of Object.entries(golden.special_token_ids)) assert.equal(tok.tokenToId(token), id, token);
  assert.equal(tok.tokenToId(special.BOS_TOKEN), special.BOS_ID);
  assert.equal(tok.tokenToId(special.EOS_TOKEN), special.EOS_ID);
  assert.equal(tok.tokenToId(special.PAD_TOKEN), special.PAD_ID);
  assert.equal(tok.tokenToId(special.IMAGE_TOKEN), special.IMAGE_TOKEN_ID);
  const named: [string, number][] = [
    ["<|ref|>", special.REF_START_ID],
    ["<|/ref|>", special.REF_END_ID],
    ["<|det|>", special.DET_START_ID],
    ["<|/det|>", special.DET_END_ID],
    ["<|grounding|>", special.GROUNDING_ID],
    ["<td>", special.TD_ID],
    ["</td>", special.TD_END_ID],
    ["<tr>", special.TR_ID],
    ["</tr>", special.TR_END_ID],
    ["<|User|>", special.USER_ID],
    ["<|Assistant|>", special.ASSISTANT_ID],
    ["Ċ", special.NEWLINE_ID],
  ];
  for (const [token, id] of named) assert.equal(tok.tokenToId(token), id, token);
  assert.equal(tok.idToToken(special.IMAGE_TOKEN_ID), "<image>");
  assert.equal(tok.tokenToId("<not a token>"), undefined);
  assert.equal(tok.idToToken(special.TOKENIZER_VOCAB_SIZE - 1), "<|Assistant|>");
  assert.equal(tok.idToToken(special.TOKENIZER_VOCAB_SIZE), undefined);
  assert.deepEqual([...special.NGRAM_WHITELIST_IDS], [128821, 128822]);
});

test("isSpecialId follows the special flag", () => {
  const tok = getBuiltin();
  for (const id of [0, 1, 2, 128000, 128799, 128805, 128815, 128821, 128826]) assert.ok(tok.isSpecialId(id), `${id}`);
  for (const id of [3, 201, 128800, 128803, 128804, 128814, 128827]) assert.ok(!tok.isSpecialId(id), `${id}`);
});

test("encode defaults to no BOS; decode defaults to keeping special tokens", () => {
  const tok = getBuiltin();
  assert.deepEqual(tok.encode("Hello"), [19923]);
  assert.deepEqual(tok.encode("Hello", { addBos: true }), [0, 19923]);
  assert.deepEqual(tok.encode(""), []);
  assert.deepEqual(tok.encode("", { addBos: true }), [0]);
  assert.equal(tok.decode([19923, 1]), "Hello<｜end▁of▁sentence｜>");
  assert.equal(tok.decode(Int32Array.from([19923, 1]), { skipSpecialTokens: true }), "Hello");
  assert.equal(tok.decode([]), "");
  assert.equal(tok.decode([128900]), "");
  assert.throws(() => tok.decode([1.5]), RangeError);
  assert.throws(() => tok.decode([-1]), RangeError);
});

test("load: corrupt or unusable files give a TokenizerError naming the file", () => {
  const dir = tempDir();
  const file = join(dir, "tokenizer.json");
  writeFileSync(file, '{"version": "1.0", "model": ');
  assert.throws(
    () => DeepSeekTokenizer.load(dir),
    (e: unknown) =>
      e instanceof TokenizerError && e.file === file && e.message.includes(file) && /corrupt/.test(e.message),
  );
  writeFileSync(file, "[1, 2, 3]");
  assert.throws(
    () => DeepSeekTokenizer.load(dir),
    (e: unknown) => e instanceof TokenizerError && e.file === file,
  );
  writeFileSync(file, JSON.stringify({ model: { type: "BPE" }, added_tokens: [] }));
  assert.throws(
    () => DeepSeekTokenizer.load(dir),
    (e: unknown) => e instanceof TokenizerError && e.file === file,
  );

  const dir2 = tempDir();
  const cfg = join(dir2, "tokenizer_config.json");
  writeFileSync(cfg, "{not json");
  assert.throws(
    () => DeepSeekTokenizer.load(dir2),
    (e: unknown) => e instanceof TokenizerError && e.file === cfg && e.message.includes(cfg),
  );

  const missing = join(dir2, "nope");
  assert.throws(
    () => DeepSeekTokenizer.load(missing),
    (e: unknown) => e instanceof TokenizerError && e.file === missing,
  );
});

test("load: a tokenizer.json that is not DeepSeek-OCR's is refused", () => {
  const official = JSON.parse(readFileSync(join(TOKENIZER_DIR, "tokenizer.json"), "utf8"));
  official.added_tokens = official.added_tokens.filter((t: { id: number }) => t.id !== 128815);
  assert.throws(
    () => DeepSeekTokenizer.fromJson(official, undefined, "x.json"),
    (e: unknown) => {
      return e instanceof TokenizerError && e.file === "x.json" && e.message.includes("<image>");
    },
  );
});

test("load: checkpoint dir with tokenizer.json and tokenizer_config.json", () => {
  const dir = join(tempDir(), "ckpt");
  mkdirSync(dir);
  copyFileSync(join(TOKENIZER_DIR, "tokenizer.json"), join(dir, "tokenizer.json"));
  copyFileSync(join(TOKENIZER_DIR, "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
  const tok = DeepSeekTokenizer.load(dir);
  assert.equal(tok.source, join(dir, "tokenizer.json"));
  assert.deepEqual(tok.encode("<image>\nFree OCR."), [128815, 201, 21431, 126041, 16]);
});
