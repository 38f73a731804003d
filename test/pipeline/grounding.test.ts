/** parseGrounding / parseBoxes / toPixels on hand-written outputs shaped like real model output (spec 9.1). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Block, EOS_TEXT, parseBoxes, parseGrounding, toPixels } from "../../src/pipeline/grounding.ts";
import { PAGE } from "./samples.ts";

/** The official extraction (spec 9.1): DOTALL, non-greedy, coordinates as a Python literal. */
function officialSpans(raw: string): { start: number; end: number; label: string; coords: string }[] {
  const re = /(<\|ref\|>(.*?)<\|\/ref\|><\|det\|>(.*?)<\|\/det\|>)/gs;
  return [...raw.matchAll(re)].map((m) => ({
    start: m.index ?? 0,
    end: (m.index ?? 0) + m[0].length,
    label: m[2],
    coords: m[3],
  }));
}

/** Offsets are consistent with the text and cover the content without gaps. */
function checkOffsets(raw: string, blocks: Block[]): void {
  let prevEnd = -1;
  for (const b of blocks) {
    assert.equal(raw.slice(b.textStart, b.end), b.text);
    assert.ok(b.start <= b.textStart && b.textStart <= b.end);
    if (prevEnd >= 0) assert.equal(b.start, prevEnd, "blocks are contiguous");
    prevEnd = b.end;
  }
}

describe("parseGrounding", () => {
  test("a full page: labels, boxes, content, offsets", () => {
    const { blocks } = parseGrounding(PAGE);
    checkOffsets(PAGE, blocks);
    assert.deepEqual(
      blocks.map((b) => b.label),
      ["title", "text", "image", "image_caption", "table", "equation"],
    );
    assert.ok(blocks.every((b) => b.complete));
    assert.deepEqual(blocks[0].boxes, [[94, 65, 905, 100]]);
    assert.equal(blocks[0].text, "\n# DeepSeek-OCR 2: Visual Causal Flow\n\n");
    assert.equal(blocks[0].start, 0);
    assert.equal(
      PAGE.slice(blocks[0].start, blocks[0].textStart),
      "<|ref|>title<|/ref|><|det|>[[94, 65, 905, 100]]<|/det|>",
    );
    // an image span with two boxes
    assert.deepEqual(blocks[2].boxes, [
      [100, 200, 480, 420],
      [520, 200, 900, 420],
    ]);
    assert.equal(blocks[2].text, "\n\n\n");
    assert.match(blocks[4].text, /^\n<table><tr><td>Model<\/td>/);
    // the trailing EOS is not content
    assert.equal(blocks[5].text, "\n\\[\nx \\eqqcolon y\n\\]");
    assert.equal(blocks[5].end, PAGE.length - EOS_TEXT.length);
  });

  test("agrees with the official regex on well-formed output", () => {
    const raws = [
      PAGE,
      "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>a<|ref|>sub_title<|/ref|><|det|>[[5, 6, 7, 8]]<|/det|>b",
      "lead\n<|ref|>a b<|/ref|><|det|>[[0, 0, 999, 999]]<|/det|>\n<|ref|>text<|/ref|><|det|>[[10, 10, 20, 20], [30, 30, 40, 40]]<|/det|>",
    ];
    for (const raw of raws) {
      const official = officialSpans(raw);
      const spans = parseGrounding(raw).blocks.filter((b) => b.start !== b.textStart);
      assert.deepEqual(
        spans.map((b) => ({ start: b.start, end: b.textStart, label: b.label })),
        official.map((o) => ({ start: o.start, end: o.end, label: o.label })),
      );
      spans.forEach((b, i) => {
        // Python eval of the coordinate text, emulated by JSON.parse for these integer lists
        assert.deepEqual(b.boxes, JSON.parse(official[i].coords));
      });
    }
  });

  test("text before the first span is a block with label null", () => {
    const raw = "Header line\n<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nBody";
    const { blocks } = parseGrounding(raw);
    checkOffsets(raw, blocks);
    assert.equal(blocks.length, 2);
    assert.deepEqual(
      { ...blocks[0] },
      { label: null, boxes: [], text: "Header line\n", start: 0, textStart: 0, end: 12, complete: true },
    );
    assert.equal(blocks[1].text, "\nBody");
    // whitespace only before the first span: no null block
    assert.equal(parseGrounding("\n  <|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>x").blocks.length, 1);
  });

  test("output without any span (Free OCR) is one label-less block", () => {
    const raw = "Plain OCR text\n\nwith <td>cells</td> and no spans.";
    assert.deepEqual(parseGrounding(raw).blocks, [
      { label: null, boxes: [], text: raw, start: 0, textStart: 0, end: raw.length, complete: true },
    ]);
    assert.deepEqual(parseGrounding(`${raw}${EOS_TEXT}\n`).blocks[0].text, raw);
    assert.deepEqual(parseGrounding("").blocks, []);
    assert.deepEqual(parseGrounding(" \n ").blocks, []);
    assert.deepEqual(parseGrounding(EOS_TEXT).blocks, []);
  });

  test("a page cut off mid-span", () => {
    const raw = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nDone.\n<|ref|>text<|/ref|><|det|>[[1, 2, 3";
    const { blocks } = parseGrounding(raw);
    checkOffsets(raw, blocks);
    assert.equal(blocks.length, 2);
    assert.equal(blocks[0].text, "\nDone.\n");
    assert.deepEqual(
      { label: blocks[1].label, boxes: blocks[1].boxes, text: blocks[1].text, complete: blocks[1].complete },
      { label: "text", boxes: [], text: "", complete: false },
    );
    assert.equal(blocks[1].end, raw.length);
    // the complete boxes of a cut-off list are kept
    assert.deepEqual(parseGrounding("<|ref|>image<|/ref|><|det|>[[1, 2, 3, 4], [5, 6").blocks[0].boxes, [[1, 2, 3, 4]]);
    // cut inside the label, after </ref>, right after <|det|>
    for (const [cut, label] of [
      ["<|ref|>tab", "tab"],
      ["<|ref|>table<|/ref|>", "table"],
      ["<|ref|>table<|/ref|><|det|>", "table"],
      ["<|ref|>", ""],
    ] as const) {
      const b = parseGrounding(`Text.\n${cut}`).blocks;
      assert.equal(b.length, 2, cut);
      assert.equal(b[0].text, "Text.\n");
      assert.deepEqual([b[1].label, b[1].boxes, b[1].text, b[1].complete], [label, [], "", false], cut);
    }
  });

  test("a page cut off inside a tag's text drops the fragment", () => {
    for (const tail of ["<|", "<|/", "<|de", "<|det", "<|/det|", "<|ref|", "<\uFF5Cend\u2581of"]) {
      const raw = `<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nAbc${tail}`;
      const { blocks } = parseGrounding(raw);
      assert.equal(blocks.length, 1, tail);
      assert.equal(blocks[0].text, "\nAbc", tail);
    }
    // a lone "<" may be content
    assert.equal(parseGrounding("a <").blocks[0].text, "a <");
  });

  test("malformed spans become incomplete blocks, content is kept", () => {
    // <|ref|> opened inside another: the regex would make one label "a<|ref|>b"
    const nested = "<|ref|>a<|ref|>b<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nX";
    let blocks = parseGrounding(nested).blocks;
    checkOffsets(nested, blocks);
    assert.deepEqual(
      blocks.map((b) => [b.label, b.complete, b.text]),
      [
        ["a", false, ""],
        ["b", true, "\nX"],
      ],
    );
    // ref without det; then a det without ref; then stray closing tags
    const raw = "<|ref|>title<|/ref|>\n# T\n<|det|>[[5, 6, 7, 8]]<|/det|>\nY<|/det|>Z<|/ref|>W";
    blocks = parseGrounding(raw).blocks;
    checkOffsets(raw, blocks);
    assert.deepEqual(
      blocks.map((b) => [b.label, b.boxes, b.text, b.complete]),
      [
        ["title", [], "\n# T\n", false],
        [null, [[5, 6, 7, 8]], "\nY", false],
        [null, [], "Z", false],
        [null, [], "W", false],
      ],
    );
    // an unclosed label ends at the newline: what follows is content
    blocks = parseGrounding("<|ref|>text\nThe paragraph.").blocks;
    assert.deepEqual(
      blocks.map((b) => [b.label, b.text]),
      [["text", "\nThe paragraph."]],
    );
    // an unclosed coordinate list too
    blocks = parseGrounding("<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]\nPara").blocks;
    assert.deepEqual(
      blocks.map((b) => [b.label, b.boxes, b.text, b.complete]),
      [["text", [[1, 2, 3, 4]], "\nPara", false]],
    );
  });

  test("extra whitespace", () => {
    const raw = "<|ref|> text <|/ref|> \n<|det|> [ [ 1 , 2 ,3,  4 ] ,[5,6,7,8,] ] <|/det|>body";
    const [b] = parseGrounding(raw).blocks;
    assert.equal(b.label, "text");
    assert.equal(b.complete, true);
    assert.deepEqual(b.boxes, [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    assert.equal(b.text, "body");
  });

  test("coordinates: out of range, negative, floats, swapped, non-numeric", () => {
    const raw =
      "<|ref|>image<|/ref|><|det|>[[-5, 10, 1200, 998], [10.9, 20.2, 30.5, 40.99], [300, 400, 100, 200], [a, 1, 2, 3], [1, 2, 3], [1, 2, 3, 4, 5], [1e2, +3, 4., .5]]<|/det|>";
    assert.deepEqual(parseGrounding(raw).blocks[0].boxes, [
      [0, 10, 999, 998],
      [10, 20, 30, 40],
      [100, 200, 300, 400],
      [4, 0, 100, 3],
    ]);
    assert.deepEqual(parseBoxes("not a list"), []);
    assert.deepEqual(parseBoxes("[1, 2, 3, 4]"), [[1, 2, 3, 4]]);
    assert.deepEqual(parseBoxes("[[[1, 2, 3, 4]]]"), [[1, 2, 3, 4]]);
    assert.deepEqual(parseBoxes("[[1, 2, 3, NaN], [Infinity, 0, 0, 0]]"), []);
    assert.deepEqual(parseBoxes("[[1e999, -1e999, 0, 0]]"), [[0, 0, 999, 0]]);
  });
});

describe("toPixels (int(x / 999 * W), spec 9.1)", () => {
  test("matches Python's truncation", () => {
    // values computed with CPython: int(x / 999 * W)
    assert.deepEqual(toPixels([500, 1, 999, 998], 1191, 1684), [596, 1, 1191, 1682]);
    assert.deepEqual(toPixels([0, 333, 123, 777], 726, 1224), [0, 408, 89, 952]);
    assert.deepEqual(toPixels([333, 777, 333, 777], 1224, 545), [408, 423, 408, 423]);
  });
  test("full-scale box covers the image", () => {
    assert.deepEqual(toPixels([0, 0, 999, 999], 640, 480), [0, 0, 640, 480]);
  });
});
