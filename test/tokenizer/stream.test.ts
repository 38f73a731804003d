import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SeededRandom } from "../../src/generate/sampling.ts";
import { StreamingDetokenizer } from "../../src/tokenizer/stream.ts";
import { DeepSeekTokenizer } from "../../src/tokenizer/tokenizer.ts";
import { TOKENIZER_DIR } from "../helpers/paths.ts";

const golden = JSON.parse(readFileSync(join(TOKENIZER_DIR, "golden_ids.json"), "utf8")) as {
  encode: { name: string; text: string; add_bos: boolean; ids: number[] }[];
  decode: { name: string; ids: number[]; skip_special_tokens: boolean; text: string }[];
};
const tok = DeepSeekTokenizer.builtin();

/** Streams ids; checks no delta contains a U+FFFD that the final text does not have at that place. */
function stream(ids: number[], skipSpecialTokens = false): { deltas: string[]; all: string } {
  const s = new StreamingDetokenizer(tok, { skipSpecialTokens });
  const deltas = ids.map((id) => s.push(id));
  deltas.push(s.flush());
  assert.equal(s.text, deltas.join(""));
  assert.equal(s.tokenCount, ids.length);
  assert.equal(s.pendingCount, 0);
  return { deltas, all: deltas.join("") };
}

function isUtf8Whole(s: string): boolean {
  // No lone surrogates.
  return s === Buffer.from(s, "utf8").toString("utf8");
}

test("every golden decode case: the deltas concatenate to decode(ids)", () => {
  for (const c of golden.decode) {
    const { all } = stream(c.ids, c.skip_special_tokens);
    assert.equal(all, c.text, c.name);
  }
});

test("every golden encode case round-trips through the streamer", () => {
  for (const c of golden.encode) {
    const { deltas, all } = stream(c.ids);
    assert.equal(all, tok.decode(c.ids), c.name);
    for (const d of deltas) assert.ok(isUtf8Whole(d), c.name);
  }
});

test("prefix cases: nothing is emitted until a character completes (emoji, ZWJ family, CJK, Korean)", () => {
  for (const text of ["👋", "👨‍👩‍👧‍👦", "深度求索", "한국어", "Hi 👋 there 深度", "é"]) {
    const ids = tok.encode(text);
    const { deltas, all } = stream(ids);
    assert.equal(all, text);
    for (const d of deltas) assert.ok(!d.includes("\uFFFD"), `${text}: ${JSON.stringify(deltas)}`);
    // Each prefix of deltas is a prefix of the text.
    let acc = "";
    for (const d of deltas) {
      acc += d;
      assert.ok(text.startsWith(acc));
    }
  }
  // The ZWJ family: first token is half of 👨, so the first delta is empty.
  const fam = stream([25730, 104, 46088, 25730, 105]);
  assert.deepEqual(fam.deltas, ["", "👨", "\u200d", "", "👩", ""]);
});

test("single-byte tokens: a CJK character arrives in one delta; invalid bytes come out at the end", () => {
  assert.deepEqual(stream([165, 118, 112]).deltas, ["", "", "深", ""]);
  assert.deepEqual(stream([67, 165, 118, 68]).deltas, ["a", "", "", "\uFFFDb", ""]);
  assert.deepEqual(stream([190]).deltas, ["", "\uFFFD"]);
  assert.deepEqual(stream([175, 256, 242]).deltas, ["", "", "", "\uFFFD"]);
  assert.deepEqual(stream([]).deltas, [""]);
});

test("special tokens between bytes, kept and skipped", () => {
  const ids = [165, 128821, 118, 112, 0, 165, 118, 1, 112];
  assert.equal(stream(ids).all, tok.decode(ids));
  assert.equal(stream(ids, true).all, tok.decode(ids, { skipSpecialTokens: true }));
  assert.equal(stream(ids, true).all, "深深");
});

test("random id sequences: concatenation equals decode(all ids)", () => {
  const rng = new SeededRandom(1234);
  const pool = [
    ...Array.from({ length: 256 }, (_, i) => i + 100), // mostly single-byte tokens
    0,
    1,
    2,
    128815,
    128821,
    128822,
    128800,
    128803,
    128827,
    129279,
    25730,
    104,
    46088,
    17180,
    1645,
    5634,
    17564,
    19923,
    223,
    201,
  ];
  for (let trial = 0; trial < 300; trial++) {
    const len = 1 + (rng.nextUint32() % 40);
    const ids: number[] = [];
    for (let i = 0; i < len; i++) {
      ids.push(rng.nextUint32() % 3 === 0 ? rng.nextUint32() % 128827 : pool[rng.nextUint32() % pool.length]);
    }
    for (const skip of [false, true]) {
      const { deltas, all } = stream(ids, skip);
      assert.equal(all, tok.decode(ids, { skipSpecialTokens: skip }), JSON.stringify(ids));
      for (const d of deltas) assert.ok(isUtf8Whole(d));
    }
  }
});

test("pushAll equals pushing one by one", () => {
  const ids = tok.encode("Tables: <td>1</td> 深度求索 👨‍👩‍👧‍👦");
  const a = new StreamingDetokenizer(tok);
  const out = a.pushAll(ids) + a.flush();
  assert.equal(out, tok.decode(ids));
});
