/** cleanMarkdown / imageBoxes / joinPages (spec 9.2). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EOS_TEXT, parseGrounding } from "../../src/pipeline/grounding.ts";
import {
  cleanMarkdown,
  imageBoxes,
  imageLinkPath,
  joinPages,
  markdownLinkTarget,
  PAGE_SPLIT,
} from "../../src/pipeline/markdown.ts";
import { PAGE } from "./samples.ts";

describe("cleanMarkdown", () => {
  test("a full page: spans removed, one link per image box, LaTeX fixes, newlines collapsed", () => {
    const md = cleanMarkdown(PAGE, { imageLinks: (_span, box) => imageLinkPath(3, box) });
    assert.equal(
      md,
      [
        "# DeepSeek-OCR 2: Visual Causal Flow",
        "",
        "We define \\(a := b\\) and read the page in order.",
        "",
        "![](images/3_0.png)",
        "![](images/3_1.png)",
        "",
        "<center>Figure 1: Two views.</center>",
        "",
        "<table><tr><td>Model</td><td>Score</td></tr><tr><td>A</td><td>0.91</td></tr></table>",
        "",
        "\\[",
        "x =: y",
        "\\]",
      ].join("\n"),
    );
  });

  test("without imageLinks, image spans are deleted like every other span", () => {
    const md = cleanMarkdown(PAGE);
    assert.ok(!md.includes("!["));
    assert.ok(!md.includes("<|"));
    assert.ok(!md.includes(EOS_TEXT));
    assert.match(md, /in order\.\n\n<center>/);
  });

  test("the link callback gets (spanIndex, boxIndex); null skips a box", () => {
    const raw = [
      "<|ref|>image<|/ref|><|det|>[[1, 1, 50, 50], [60, 60, 90, 90]]<|/det|>",
      "<|ref|>text<|/ref|><|det|>[[1, 100, 900, 200]]<|/det|>",
      "Between.",
      "<|ref|>image<|/ref|><|det|>[[1, 300, 500, 600]]<|/det|>",
      "<|ref|>image<|/ref|><|det|>[[garbage]]<|/det|>",
      "<|ref|>image<|/ref|><|det|>[[5, 700, 500, 900]]<|/det|>",
    ].join("\n");
    const calls: [number, number][] = [];
    const md = cleanMarkdown(raw, {
      imageLinks: (s, b) => {
        calls.push([s, b]);
        return b === 1 ? null : `images/0_${b}.png`;
      },
    });
    assert.deepEqual(calls, [
      [0, 0],
      [0, 1],
      [1, 2],
      [3, 3],
    ]);
    assert.equal(md, "![](images/0_0.png)\n\nBetween.\n![](images/0_2.png)\n\n![](images/0_3.png)");
    // the same numbering as imageBoxes, which the cropping code uses
    assert.deepEqual(
      imageBoxes(parseGrounding(raw)).map((b) => [b.spanIndex, b.boxIndex, b.box]),
      [
        [0, 0, [1, 1, 50, 50]],
        [0, 1, [60, 60, 90, 90]],
        [1, 2, [1, 300, 500, 600]],
        [3, 3, [5, 700, 500, 900]],
      ],
    );
  });

  test("a page cut off mid-tag loses only the unfinished span", () => {
    const raw = "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nSome text.\n\n<|ref|>text<|/ref|><|det|>[[1, 2, 3";
    assert.equal(cleanMarkdown(raw), "Some text.");
    assert.equal(cleanMarkdown("Some text.\n<|ref|>tit"), "Some text.");
    assert.equal(cleanMarkdown("Some text.<|de"), "Some text.");
  });

  test("malformed spans and stray tags are removed, their content kept", () => {
    const raw = "<|ref|>a<|ref|>title<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\n# T<|/det|>\n<|ref|>text<|/ref|>\nPara";
    assert.equal(cleanMarkdown(raw), "# T\n\nPara");
  });

  test("Free OCR output (no spans): only EOS removal, fixes, collapsing, trimming", () => {
    const raw = `\n\nLine one \\coloneqq two\n\n\n\n\nLine \\eqqcolon three\n<table><tr><td>1</td></tr></table>\n\n\n${EOS_TEXT}`;
    assert.equal(cleanMarkdown(raw), "Line one := two\n\nLine =: three\n<table><tr><td>1</td></tr></table>");
    assert.equal(cleanMarkdown(""), "");
    assert.equal(cleanMarkdown(EOS_TEXT), "");
  });

  test("every end-of-sentence marker is removed, as the official replace() does", () => {
    assert.equal(cleanMarkdown(`a${EOS_TEXT}b${EOS_TEXT}`), "ab");
  });
});

describe("joinPages", () => {
  test("each page, the last included, is followed by the official separator", () => {
    assert.equal(PAGE_SPLIT, "\n\n<--- Page Split --->\n");
    assert.equal(joinPages(["A", "B"]), "A\n\n<--- Page Split --->\nB\n\n<--- Page Split --->\n");
    assert.equal(joinPages(["only"]), "only\n\n<--- Page Split --->\n");
    assert.equal(joinPages([]), "");
  });
});

describe("imageLinkPath", () => {
  test("images/<page>_<box>.<ext>", () => {
    assert.equal(imageLinkPath(0, 2), "images/0_2.png");
    assert.equal(imageLinkPath(12, 0, "jpg"), "images/12_0.jpg");
  });
});

describe("markdownLinkTarget", () => {
  test("safe paths unchanged; spaces, parentheses, % and controls percent-encoded; decodes back", () => {
    assert.equal(markdownLinkTarget("images/report/1_0.png"), "images/report/1_0.png");
    assert.equal(markdownLinkTarget("images/a b (v2) 100%/3_1.png"), "images/a%20b%20%28v2%29%20100%25/3_1.png");
    assert.equal(markdownLinkTarget("images/<x>[y]\t/1_0.png"), "images/%3Cx%3E%5By%5D%09/1_0.png");
    // non-ASCII letters are kept (CommonMark allows them); non-ASCII spaces are not
    assert.equal(markdownLinkTarget("images/报告\u3000é/1_0.png"), "images/报告%E3%80%80é/1_0.png");
    for (const p of ["images/a b (v2) 100%/3_1.png", "images/报告\u3000é/1_0.png", "images/x\ny/1_0.png"]) {
      const t = markdownLinkTarget(p);
      assert.ok(!/[\s()<>]/.test(t), t);
      assert.equal(decodeURIComponent(t), p);
    }
  });
});
