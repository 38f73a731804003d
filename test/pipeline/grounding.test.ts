/** parseGrounding / parseBoxes / toPixels on hand-written outputs shaped like real model output (spec 9.1). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Block, EOS_TEXT, parseBoxes, parseGrounding, toPixels } from "../../src/pipeline/grounding.ts";
import { cleanMarkdown, imageBoxes } from "../../src/pipeline/markdown.ts";
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

describe("parseGrounding: more malformed and unfinished output (issue 11)", () => {
  const shape = (raw: string) => parseGrounding(raw).blocks.map((b) => [b.label, b.boxes, b.text, b.complete]);

  test("nested tags", () => {
    // a second <|det|> before the first is closed: the first list ends there
    let raw = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|det|>[[5, 6, 7, 8]]<|/det|>\nX";
    checkOffsets(raw, parseGrounding(raw).blocks);
    assert.deepEqual(shape(raw), [
      ["text", [[1, 2, 3, 4]], "", false],
      [null, [[5, 6, 7, 8]], "\nX", false],
    ]);
    // a whole span opened inside an unfinished coordinate list: the inner span is well-formed
    raw = "<|ref|>text<|/ref|><|det|>[[1, 2, <|ref|>title<|/ref|><|det|>[[5, 6, 7, 8]]<|/det|>\n# T";
    checkOffsets(raw, parseGrounding(raw).blocks);
    assert.deepEqual(shape(raw), [
      ["text", [], "", false],
      ["title", [[5, 6, 7, 8]], "\n# T", true],
    ]);
    // <|det|> inside an unclosed label
    raw = "<|ref|>a<|det|>[[1, 2, 3, 4]]<|/det|>\nY";
    assert.deepEqual(shape(raw), [
      ["a", [], "", false],
      [null, [[1, 2, 3, 4]], "\nY", false],
    ]);
    assert.equal(cleanMarkdown(raw), "Y");
  });

  test("a label containing a newline is a label, as with the official DOTALL regex", () => {
    const raw = "<|ref|>te\nxt<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>Z";
    assert.deepEqual(shape(raw), [["te\nxt", [[1, 2, 3, 4]], "Z", true]]);
    assert.deepEqual(
      officialSpans(raw).map((o) => o.label),
      ["te\nxt"],
    );
  });

  test("stray closing tags after a complete span", () => {
    const raw = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|><|/det|>W<|/ref|><|/ref|>V";
    checkOffsets(raw, parseGrounding(raw).blocks);
    assert.deepEqual(shape(raw), [
      ["text", [[1, 2, 3, 4]], "", true],
      [null, [], "W", false],
      [null, [], "", false],
      [null, [], "V", false],
    ]);
    assert.equal(cleanMarkdown(raw), "WV");
  });

  test("cut off inside the closing <|/det|> of an image span: its boxes are kept, the span is unfinished", () => {
    for (const tail of ["<|/det", "<|/d", "<|/", "<|", ""]) {
      const raw = `<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>Q\n<|ref|>image<|/ref|><|det|>[[10, 20, 30, 40]]${tail}`;
      const { blocks } = parseGrounding(raw);
      assert.deepEqual(shape(raw), [
        ["text", [[1, 2, 3, 4]], "Q\n", true],
        ["image", [[10, 20, 30, 40]], "", false],
      ]);
      assert.equal(blocks[1].end, raw.length - tail.length, tail);
      // the crop numbering sees the box, so the cut-off figure still gets its crop and link
      assert.deepEqual(
        imageBoxes(blocks).map((b) => b.box),
        [[10, 20, 30, 40]],
      );
      assert.equal(cleanMarkdown(raw, { imageLinks: (_s, b) => `images/p_${b}.png` }), "Q\n![](images/p_0.png)");
    }
  });

  test("end-of-sentence: cut inside it, trailing whitespace after it, or in the middle of the text", () => {
    const span = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>";
    assert.deepEqual(shape(`${span}Q<\uFF5Cend\u2581of`), [["text", [[1, 2, 3, 4]], "Q", true]]);
    assert.deepEqual(shape(`${span}Q${EOS_TEXT}\n \n`), [["text", [[1, 2, 3, 4]], "Q", true]]);
    // only a trailing marker is outside the blocks; cleanMarkdown removes every one
    assert.deepEqual(shape(`${span}Q${EOS_TEXT}tail`), [["text", [[1, 2, 3, 4]], `Q${EOS_TEXT}tail`, true]]);
    assert.equal(cleanMarkdown(`${span}Q${EOS_TEXT}tail`), "Qtail");
  });

  test("coordinates at and beyond the edges are clamped to 0..999 and stay inside the page in pixels", () => {
    const raw = "<|ref|>image<|/ref|><|det|>[[-0.5, 999, 999.9, 1000], [-1, -1, 0, 0], [1000, 5000, 999, 998]]<|/det|>";
    const boxes = parseGrounding(raw).blocks[0].boxes;
    assert.deepEqual(boxes, [
      [0, 999, 999, 999],
      [0, 0, 0, 0],
      [999, 998, 999, 999],
    ]);
    for (const b of boxes) {
      for (const v of b) assert.ok(Number.isInteger(v) && v >= 0 && v <= 999 && !Object.is(v, -0));
      const [x1, y1, x2, y2] = toPixels(b, 333, 777);
      assert.ok(x1 >= 0 && x2 <= 333 && y1 >= 0 && y2 <= 777 && x1 <= x2 && y1 <= y2);
    }
  });

  test("empty label and empty coordinate list", () => {
    assert.deepEqual(shape("<|ref|><|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>body"), [["", [[1, 2, 3, 4]], "body", true]]);
    assert.deepEqual(shape("<|ref|>text<|/ref|><|det|>[]<|/det|>body"), [["text", [], "body", true]]);
    assert.deepEqual(shape("<|ref|>text<|/ref|><|det|><|/det|>body"), [["text", [], "body", true]]);
  });

  test("a long repetition loop cut off at the token limit mid-tag", () => {
    const one = "<|ref|>text<|/ref|><|det|>[[10, 20, 30, 40]]<|/det|>\nSame line again.\n\n";
    const raw = `${one.repeat(2000)}<|ref|>text<|/ref|><|det|>[[10, 2`;
    const { blocks } = parseGrounding(raw);
    checkOffsets(raw, blocks);
    assert.equal(blocks.length, 2001);
    assert.ok(blocks.slice(0, 2000).every((b) => b.complete && b.boxes.length === 1));
    assert.deepEqual([blocks[2000].complete, blocks[2000].boxes, blocks[2000].end], [false, [], raw.length]);
    assert.equal(cleanMarkdown(raw), Array(2000).fill("Same line again.").join("\n\n"));
  });
});
