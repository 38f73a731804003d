/** parsePageRange / selectPages / pagesBeyondCount: the CLI's `--pages 1-3,7,10-`. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { pagesBeyondCount, parsePageRange, selectPages } from "../../src/pipeline/page-range.ts";

test("parses pages, closed ranges and open ranges, spaces allowed", () => {
  assert.deepEqual(parsePageRange("1-3,7,10-").intervals, [
    { from: 1, to: 3 },
    { from: 7, to: 7 },
    { from: 10, to: null },
  ]);
  assert.deepEqual(parsePageRange(" 2 - 4 , 9 ").intervals, [
    { from: 2, to: 4 },
    { from: 9, to: 9 },
  ]);
  assert.equal(parsePageRange(" 5-5 ").spec, "5-5");
});

test("bad specs throw a one-line RangeError that says what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["0", /page numbers start at 1, got 0/],
    ["2,0-3", /start at 1/],
    ["3-1", /"3-1" goes backwards \(write 1-3\)/],
    ["a", /"a" is not a page number or range/],
    ["-3", /"-3" is not a page number or range/],
    ["1-2-3", /"1-2-3" is not/],
    ["1.5", /"1.5" is not/],
    ["", /it is empty/],
    ["   ", /it is empty/],
    ["1,,2", /empty item between commas/],
    ["1,", /empty item/],
    ["99999999999999999999", /too large/],
  ];
  for (const [spec, why] of cases) {
    assert.throws(
      () => parsePageRange(spec),
      (e: unknown) => {
        assert.ok(e instanceof RangeError, `${spec}: ${e}`);
        assert.match(e.message, why, spec);
        assert.match(e.message, /^invalid page range/);
        assert.ok(!e.message.includes("\n"));
        return true;
      },
    );
  }
});

test("selectPages: sorted, deduplicated, clipped to the page count", () => {
  const r = parsePageRange("10-,7,1-3,2,3-5");
  assert.deepEqual(selectPages(r, 12), [1, 2, 3, 4, 5, 7, 10, 11, 12]);
  assert.deepEqual(selectPages(r, 8), [1, 2, 3, 4, 5, 7]);
  assert.deepEqual(selectPages(r, 2), [1, 2]);
  assert.deepEqual(selectPages(parsePageRange("9-"), 3), []);
  assert.deepEqual(selectPages(parsePageRange("3-"), 3), [3]);
  assert.deepEqual(selectPages(parsePageRange("1-9007199254740991"), 4), [1, 2, 3, 4]);
});

test("selectPages without a range is every page; bad counts are refused", () => {
  assert.deepEqual(selectPages(undefined, 4), [1, 2, 3, 4]);
  assert.deepEqual(selectPages(undefined, 0), []);
  assert.throws(() => selectPages(undefined, -1), RangeError);
  assert.throws(() => selectPages(parsePageRange("1"), 2.5), RangeError);
});

test("pagesBeyondCount names the requested pages that do not exist", () => {
  const r = parsePageRange("1-3,7,4-9,12-,2-");
  assert.deepEqual(pagesBeyondCount(r, 5), ["7", "6-9", "12-"]);
  assert.deepEqual(pagesBeyondCount(r, 8), ["9", "12-"]);
  assert.deepEqual(pagesBeyondCount(r, 12), []);
  assert.deepEqual(pagesBeyondCount(parsePageRange("3-4"), 0), ["3-4"]);
  assert.throws(() => pagesBeyondCount(r, Number.NaN), RangeError);
});
