import assert from "node:assert/strict";
import { test } from "node:test";
import { finalizeHfOutput, StopCondition, stripTrailingEos } from "../../src/generate/stop.ts";

test("StopCondition: EOS, max new tokens, max total length", () => {
  const s = new StopCondition({ maxNewTokens: 5 }, 100);
  assert.equal(s.check(1, 1), "eos");
  assert.equal(s.check(42, 4), null);
  assert.equal(s.check(42, 5), "max-new-tokens");
  assert.equal(s.check(1, 5), "eos");
  assert.ok(s.isEos(1) && !s.isEos(0));
  const v = new StopCondition({ maxTotalTokens: 8192 }, 1131);
  assert.equal(v.check(42, 7060), null);
  assert.equal(v.check(42, 7061), "max-length");
  assert.equal(new StopCondition().check(42, 8191), null);
  assert.equal(new StopCondition().check(42, 8192), "max-new-tokens");
  assert.equal(new StopCondition({ eosIds: [7, 9] }).check(9, 1), "eos");
  assert.throws(() => new StopCondition({ maxNewTokens: 0 }), RangeError);
  assert.throws(() => new StopCondition({ maxTotalTokens: 1.5 }), RangeError);
});

test("output clean-up as HF infer(): trailing EOS text cut, then Python strip", () => {
  assert.deepEqual(stripTrailingEos("abc<｜end▁of▁sentence｜>"), { text: "abc", hadEos: true });
  assert.deepEqual(stripTrailingEos("abc"), { text: "abc", hadEos: false });
  assert.equal(finalizeHfOutput("\n# Title\n\ntext \n<｜end▁of▁sentence｜>"), "# Title\n\ntext");
  assert.equal(finalizeHfOutput("x<｜end▁of▁sentence｜><｜end▁of▁sentence｜>"), "x<｜end▁of▁sentence｜>");
});
