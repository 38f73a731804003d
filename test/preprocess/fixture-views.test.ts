/**
 * The view pipeline against every fixture case (v2_* and v1_*): from the case's input image and
 * infer_args, the tile grid, every view (byte for byte against the stored PNG and its
 * rgb_sha256) and the SHA-256 of the normalised f32 and bf16-rounded tensors must match
 * exactly (tolerance "views": abs 0, ../shared/fixtures/README.md).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import sharp from "sharp";
import { decodeImage } from "../../src/preprocess/decode.ts";
import type { RgbImage } from "../../src/preprocess/image.ts";
import { roundToBf16, toNormalizedTensor } from "../../src/preprocess/tensor.ts";
import { buildViews } from "../../src/preprocess/views.ts";
import { FIXTURES } from "../helpers/paths.ts";

interface CaseView {
  role: "global" | "tile";
  index: number;
  file: string;
  size_wh: [number, number];
  rgb_sha256: string;
  normalized_f32_sha256: string;
  normalized_bf16_as_f32_sha256: string;
}

interface CaseJson {
  image: { file: string; size_after_exif_transpose: [number, number] };
  tile_grid: { crop_ratio_w_h: [number, number]; n_tiles: number };
  views: CaseView[];
  infer_args: { base_size: number; image_size: number; crop_mode: boolean };
}

const CASES_DIR = join(FIXTURES, "cases");
const cases = readdirSync(CASES_DIR).sort();

function sha256(a: Uint8Array | Float32Array): string {
  return createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");
}

/** The stored view PNG as raw RGB (decoded with sharp, independently of decodeImage). */
async function loadPngRaw(path: string): Promise<RgbImage> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3, `${path}: stored views are RGB`);
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

function firstDiff(a: Uint8Array, b: Uint8Array): string {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `first difference at byte ${i}: ${a[i]} vs ${b[i]}`;
  return "same bytes";
}

test("all 11 fixture cases are present", () => {
  assert.equal(cases.length, 11);
});

test("exif.jpg decodes to exactly exif_decoded.png (500x640, EXIF orientation 6 applied)", async () => {
  const fromJpeg = await decodeImage(join(FIXTURES, "images", "exif.jpg"));
  const ref = await loadPngRaw(join(FIXTURES, "images", "exif_decoded.png"));
  assert.equal(fromJpeg.width, 500);
  assert.equal(fromJpeg.height, 640);
  let maxDiff = 0;
  for (let i = 0; i < ref.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref.data[i] - fromJpeg.data[i]));
  assert.equal(maxDiff, 0, "JPEG decode differs from Pillow's (libjpeg-turbo) decode");
});

for (const name of cases) {
  test(`views of ${name}`, async () => {
    const dir = join(CASES_DIR, name);
    const cj = JSON.parse(readFileSync(join(dir, "case.json"), "utf8")) as CaseJson;
    const version = name.startsWith("v1") ? "v1" : "v2";
    // The case's real input (exif.jpg goes through the JPEG decoder; the test above pins it to
    // exif_decoded.png, so a decoder difference shows up there first).
    const img = await decodeImage(join(dir, cj.image.file));
    assert.deepEqual([img.width, img.height], cj.image.size_after_exif_transpose);

    const a = cj.infer_args;
    const views = buildViews(img, { baseSize: a.base_size, imageSize: a.image_size, cropMode: a.crop_mode, version });

    const wantGrid = cj.tile_grid.n_tiles > 0 ? cj.tile_grid.crop_ratio_w_h : null;
    assert.deepEqual(views.grid, wantGrid, "tile grid");
    assert.equal(views.tiles.length, cj.tile_grid.n_tiles);

    const produced = [views.global, ...views.tiles];
    assert.equal(produced.length, cj.views.length);
    for (const [k, ref] of cj.views.entries()) {
      const got = produced[k];
      assert.equal(ref.role, k === 0 ? "global" : "tile");
      const label = `${name} ${ref.role} ${ref.index}`;
      assert.deepEqual([got.width, got.height], ref.size_wh, `${label}: size`);
      const stored = await loadPngRaw(join(dir, ref.file));
      assert.ok(
        Buffer.from(got.data).equals(Buffer.from(stored.data)),
        `${label}: ${firstDiff(got.data, stored.data)}`,
      );
      assert.equal(sha256(got.data), ref.rgb_sha256, `${label}: rgb_sha256`);
      const t = toNormalizedTensor(got);
      assert.equal(t.length, 3 * got.width * got.height);
      assert.equal(sha256(t), ref.normalized_f32_sha256, `${label}: normalized_f32_sha256`);
      roundToBf16(t);
      assert.equal(sha256(t), ref.normalized_bf16_as_f32_sha256, `${label}: normalized_bf16_as_f32_sha256`);
    }
  });
}

test("exif case also matches when started from exif_decoded.png", async () => {
  const cj = JSON.parse(readFileSync(join(CASES_DIR, "v2_exif_jpeg", "case.json"), "utf8")) as CaseJson;
  const img = await loadPngRaw(join(FIXTURES, "images", "exif_decoded.png"));
  const v = buildViews(img, { baseSize: 1024, imageSize: 768, cropMode: true, version: "v2" });
  assert.equal(v.grid, null);
  assert.equal(sha256(v.global.data), cj.views[0].rgb_sha256);
});
