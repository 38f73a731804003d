/** cropRect / cropPath / writePageCrops: the official pixel rule int(v / 999 * W), clamped, empty boxes skipped. */
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import sharp from "sharp";
import { cropPath, cropRect, writePageCrops } from "../../src/pipeline/crops.ts";
import { parseGrounding } from "../../src/pipeline/grounding.ts";
import { tempDir } from "../helpers/paths.ts";
import { positionImage } from "./samples.ts";

describe("cropRect", () => {
  test("int(v / 999 * W) per edge (values from CPython)", () => {
    assert.deepEqual(cropRect([500, 1, 999, 998], 1191, 1684), [596, 1, 1191, 1682]);
    assert.deepEqual(cropRect([0, 333, 123, 777], 726, 1224), [0, 408, 89, 952]);
    assert.deepEqual(cropRect([0, 0, 999, 999], 640, 480), [0, 0, 640, 480]);
  });
  test("empty in pixels: null", () => {
    assert.equal(cropRect([333, 777, 333, 900], 1224, 545), null);
    assert.equal(cropRect([10, 10, 11, 500], 50, 50), null, "int(10/999*50) = int(11/999*50) = 0");
    assert.equal(cropRect([0, 0, 0, 0], 100, 100), null);
  });
  test("clamped inside the page and ordered", () => {
    assert.deepEqual(cropRect([999, 999, 0, 0], 100, 50), [0, 0, 100, 50]);
    assert.deepEqual(cropRect([-20, 0, 2000, 999], 100, 50), [0, 0, 100, 50]);
  });
});

describe("writePageCrops", () => {
  test("numbered by box across image spans; only image spans; stale crops of the page removed", async () => {
    const out = tempDir();
    const raw = [
      "<|ref|>image<|/ref|><|det|>[[0, 0, 499, 499], [500, 500, 999, 999]]<|/det|>",
      "<|ref|>table<|/ref|><|det|>[[0, 0, 999, 999]]<|/det|>",
      "<table></table>",
      "<|ref|>image<|/ref|><|det|>[[100, 100, 100, 200]]<|/det|>",
      "<|ref|>image<|/ref|><|det|>[[250, 250, 750, 750]]<|/det|>",
    ].join("\n");
    // a crop left by an earlier run of this page with a number not written now, and one of another page
    const dir = join(out, "images", "doc");
    await writePageCrops(out, "doc", 4, positionImage(10, 10), parseGrounding(raw).blocks);
    writeFileSync(join(dir, "4_9.png"), "old");
    writeFileSync(join(dir, "14_0.png"), "other page");
    const crops = await writePageCrops(out, "doc", 4, positionImage(200, 100), parseGrounding(raw).blocks);
    assert.deepEqual(crops, [
      { boxIndex: 0, path: cropPath("doc", 4, 0), box_px: [0, 0, 99, 49] },
      { boxIndex: 1, path: cropPath("doc", 4, 1), box_px: [100, 50, 200, 100] },
      // box 2 is empty in pixels
      { boxIndex: 3, path: cropPath("doc", 4, 3), box_px: [50, 25, 150, 75] },
    ]);
    assert.equal(cropPath("doc", 4, 3), "images/doc/4_3.png");
    assert.deepEqual(readdirSync(dir).sort(), ["14_0.png", "4_0.png", "4_1.png", "4_3.png"]);
    const m = await sharp(join(out, "images/doc/4_1.png")).metadata();
    assert.deepEqual([m.format, m.width, m.height, m.channels], ["png", 100, 50, 3]);
  });

  test("a page without image spans writes nothing", async () => {
    const out = tempDir();
    const crops = await writePageCrops(out, "doc", 1, positionImage(10, 10), parseGrounding("plain text").blocks);
    assert.deepEqual(crops, []);
    assert.deepEqual(readdirSync(out), []);
  });
});
