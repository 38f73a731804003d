import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  applyPlainTemplate,
  buildPromptIds,
  countImagePlaceholders,
  imageTokenCountV1,
  imageTokenCountV1NoCrop,
  imageTokenCountV2,
  imageTokenCountV2NoCrop,
  PROMPT_PRESETS,
  pythonStrip,
  resolvePrompt,
  tokensPerSide,
} from "../../src/generate/prompts.ts";
import { DeepSeekTokenizer } from "../../src/tokenizer/tokenizer.ts";
import { FIXTURES } from "../helpers/paths.ts";

interface CaseJson {
  case: string;
  model: string;
  infer_args: { base_size: number; image_size: number; crop_mode: boolean; prompt: string };
  prompt_raw: string;
  prompt_final: string;
  text_pieces: { text: string; ids: number[] }[];
  tile_grid: { crop_ratio_w_h: [number, number]; n_tiles: number; images_spatial_crop: [number, number][] };
  input_ids: number[];
  images_seq_mask_true_count: number;
  image_token_id: number;
}

const casesDir = join(FIXTURES, "cases");
const cases: CaseJson[] = readdirSync(casesDir)
  .sort()
  .map((name) => JSON.parse(readFileSync(join(casesDir, name, "case.json"), "utf8")) as CaseJson);

let tokenizer: DeepSeekTokenizer | undefined;
const tok = () => {
  tokenizer ??= DeepSeekTokenizer.load(join(FIXTURES, "models", "tiny-v2"));
  return tokenizer;
};

/** Image token count of a fixture case, from its model version, settings and tile grid. */
function caseImageTokens(c: CaseJson): number {
  const [cols, rows] = c.tile_grid.images_spatial_crop[0];
  const tiled = c.tile_grid.n_tiles > 0;
  const { base_size, image_size, crop_mode } = c.infer_args;
  assert.equal(cols * rows, tiled ? c.tile_grid.n_tiles : 1);
  if (c.model === "tiny-v2") {
    return crop_mode
      ? imageTokenCountV2(cols, rows, tiled, { baseSize: base_size, tileSize: image_size })
      : imageTokenCountV2NoCrop(image_size);
  }
  assert.equal(c.model, "tiny-v1");
  return crop_mode
    ? imageTokenCountV1(cols, rows, tiled, { baseSize: base_size, tileSize: image_size })
    : imageTokenCountV1NoCrop(image_size);
}

test("all 11 fixture cases are present (v1 and v2)", () => {
  assert.equal(cases.length, 11);
  assert.ok(cases.some((c) => c.model === "tiny-v1"));
  assert.ok(cases.some((c) => c.model === "tiny-v2"));
});

for (const c of cases) {
  test(`fixture ${c.case}: ids from prompt_raw and the tile grid equal input_ids`, () => {
    const n = caseImageTokens(c);
    assert.equal(n, c.images_seq_mask_true_count);
    assert.equal(c.image_token_id, 128815);
    assert.equal(applyPlainTemplate(c.prompt_raw), c.prompt_final);
    const built = buildPromptIds(tok(), c.prompt_raw, [n]);
    assert.equal(built.text, c.prompt_final);
    assert.deepEqual(built.ids, c.input_ids);
    assert.equal(built.imageMask.length, c.input_ids.length);
    let count = 0;
    for (let i = 0; i < built.ids.length; i++) {
      assert.equal(built.imageMask[i], built.ids[i] === 128815 ? 1 : 0);
      count += built.imageMask[i];
    }
    assert.equal(count, c.images_seq_mask_true_count);
    assert.deepEqual(built.imageSpans, [{ start: 1, length: n }]);
    // The text pieces of case.json.
    const pieces = c.prompt_final.split("<image>");
    assert.equal(pieces.length, c.text_pieces.length);
    for (let k = 0; k < pieces.length; k++) {
      assert.equal(pieces[k], c.text_pieces[k].text);
      assert.deepEqual(tok().encode(pieces[k]), c.text_pieces[k].ids);
    }
  });
}

test("fixture prompts are the resolved presets (after the template strip)", () => {
  const finals = new Set(cases.map((c) => c.prompt_final));
  assert.deepEqual([...finals].sort(), [PROMPT_PRESETS.document, PROMPT_PRESETS.free].sort());
  assert.equal(resolvePrompt("document"), "<image>\n<|grounding|>Convert the document to markdown.");
  assert.equal(resolvePrompt("free"), "<image>\nFree OCR.");
});

test("resolvePrompt: presets, locate, custom text", () => {
  assert.equal(resolvePrompt("figure"), "<image>\nParse the figure.");
  assert.equal(resolvePrompt("describe"), "<image>\nDescribe this image in detail.");
  assert.equal(resolvePrompt("locate:the title"), "<image>\nLocate <|ref|>the title<|/ref|> in the image.");
  assert.throws(() => resolvePrompt("locate:"), RangeError);
  assert.equal(resolvePrompt("<image>\nExtract the text in the image. "), "<image>\nExtract the text in the image. ");
  assert.equal(resolvePrompt("Extract the text."), "<image>\nExtract the text.");
  assert.equal(resolvePrompt("Document"), "<image>\nDocument");
  assert.equal(resolvePrompt("toString"), "<image>\ntoString");
  assert.equal(countImagePlaceholders("<image><image>x"), 2);
  assert.equal(countImagePlaceholders("x"), 0);
});

test("locate prompt ids: a space before <|ref|> is its own token", () => {
  const { ids } = buildPromptIds(tok(), resolvePrompt("locate:title"), [257]);
  const text = ids.slice(258);
  assert.deepEqual(tok().decode(text), "\nLocate <|ref|>title<|/ref|> in the image.");
  assert.ok(text.includes(223));
  assert.ok(text.includes(128816) && text.includes(128817));
});

test("buildPromptIds: several images, text before the first, count mismatch", () => {
  const r = buildPromptIds(tok(), "  Page A: <image> and B:<image>\nFree OCR. \n", [3, 2]);
  assert.equal(r.text, "Page A: <image> and B:<image>\nFree OCR.");
  const a = tok().encode("Page A: ");
  const b = tok().encode(" and B:");
  const c = tok().encode("\nFree OCR.");
  assert.deepEqual(r.ids, [0, ...a, 128815, 128815, 128815, ...b, 128815, 128815, ...c]);
  assert.deepEqual(r.imageSpans, [
    { start: 1 + a.length, length: 3 },
    { start: 1 + a.length + 3 + b.length, length: 2 },
  ]);
  assert.equal(
    r.imageMask.reduce((s, v) => s + v, 0),
    5,
  );
  assert.throws(() => buildPromptIds(tok(), "<image>x", []), RangeError);
  assert.throws(() => buildPromptIds(tok(), "<image>x", [1, 2]), RangeError);
  assert.throws(() => buildPromptIds(tok(), "<image>x", [0]), RangeError);
  assert.deepEqual(buildPromptIds(tok(), "no image", []).ids, [0, ...tok().encode("no image")]);
  // strip: false keeps surrounding whitespace (vLLM uses the prompt as is).
  assert.deepEqual(buildPromptIds(tok(), "<image>\nFree OCR. ", [1], { strip: false }).ids.slice(-1), [223]);
});

test("pythonStrip follows Python str.strip(), not String.trim()", () => {
  assert.equal(pythonStrip(" \t\n\r\v\f x y \u00a0\u3000\u2028"), "x y");
  assert.equal(pythonStrip("\u001c\u001fx\u0085"), "x");
  assert.equal(pythonStrip("\ufeffx\ufeff"), "\ufeffx\ufeff");
  assert.equal(pythonStrip("   "), "");
  assert.equal(pythonStrip(""), "");
});

test("token counts: q(s), v2 and v1 formulas (spec 4.4, 7.1)", () => {
  assert.deepEqual(
    [1024, 768, 640, 512, 1280].map((s) => tokensPerSide(s)),
    [16, 12, 10, 8, 20],
  );
  assert.equal(imageTokenCountV2(1, 1, false), 257);
  const v2 = [2, 3, 4, 5, 6].map((n) => imageTokenCountV2(n, 1, true));
  assert.deepEqual(v2, [545, 689, 833, 977, 1121]);
  assert.equal(imageTokenCountV2(2, 3, true), 1121);
  assert.equal(imageTokenCountV2NoCrop(1024), 257);
  assert.equal(imageTokenCountV2NoCrop(768), 145);
  assert.deepEqual(
    [512, 640, 1024, 1280].map((s) => imageTokenCountV1NoCrop(s)),
    [73, 111, 273, 421],
  );
  assert.equal(imageTokenCountV1(1, 1, false), 273);
  assert.equal(imageTokenCountV1(2, 3, true), 273 + 30 * 21);
  assert.equal(imageTokenCountV1(4, 2, true), 273 + 20 * 41);
  // Non-multiple sizes round up after the floor by the patch size.
  assert.equal(tokensPerSide(1000), Math.ceil(62 / 4));
});

test("token counts: invalid tile grids throw", () => {
  assert.throws(() => imageTokenCountV2(0, 2, true), RangeError);
  assert.throws(() => imageTokenCountV1(1.5, 2, true), RangeError);
  assert.equal(imageTokenCountV2(0, 0, false), 257);
});
