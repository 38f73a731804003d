/**
 * Pieces of the view pipeline the fixtures do not pin (spec "Implementer notes" item 7):
 * half-to-even rounding in ImageOps.pad, the tile-grid tie rule and candidate order, the
 * 768 / 640 tiling thresholds, the non-crop path at image_size 768, and the --max-tiles override.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createRgbImage, type RgbImage } from "../../src/preprocess/image.ts";
import { pySetOrder, pyTupleHash } from "../../src/preprocess/pyset.ts";
import { resizeBicubic } from "../../src/preprocess/resample.ts";
import {
  buildViews,
  chooseTileGrid,
  containSize,
  makeTiles,
  padToSquare,
  roundHalfEven,
  tileGridCandidates,
} from "../../src/preprocess/views.ts";

/** Deterministic pseudo-random image. */
function noise(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data };
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

const GREY = [127, 127, 127];

test("roundHalfEven is Python's round()", () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [3.5, 4],
    [-0.5, 0],
    [-1.5, -2],
    [2.4999999999999996, 2],
    [2.5000000000000004, 3],
    [1023.5, 1024],
    [1022.5, 1022],
    [7, 7],
  ];
  for (const [x, want] of cases) assert.equal(roundHalfEven(x), want, `round(${x})`);
});

test("containSize: Python rounding of the short side, clamped to >= 1", () => {
  assert.deepEqual(containSize(1191, 1684, 1024), [724, 1024]); // 724.2...
  assert.deepEqual(containSize(1400, 772, 1024), [1024, 565]); // 564.66
  assert.deepEqual(containSize(2048, 3, 1024), [1024, 2]); // 1.5 -> 2
  assert.deepEqual(containSize(2048, 5, 1024), [1024, 2]); // 2.5 -> 2 (Math.round would give 3)
  assert.deepEqual(containSize(2048, 7, 1024), [1024, 4]); // 3.5 -> 4
  assert.deepEqual(containSize(5, 2048, 1024), [2, 1024]);
  assert.deepEqual(containSize(4096, 1, 1024), [1024, 1]); // 0.25 -> 0, clamped (Pillow would fail)
  assert.deepEqual(containSize(300, 300, 1024), [1024, 1024]);
});

test("padToSquare offsets: round((1024 - side) / 2) half to even", () => {
  // Portrait widths 1021 (offset 1.5 -> 2), 1019 (2.5 -> 2), 1017 (3.5 -> 4); height already 1024,
  // so the image is pasted unchanged.
  for (const [side, offset] of [
    [1021, 2],
    [1019, 2],
    [1017, 4],
    [1023, 0],
  ]) {
    const img = noise(side, 1024, side);
    const out = padToSquare(img, 1024);
    assert.deepEqual([out.width, out.height], [1024, 1024]);
    for (let x = 0; x < offset; x++) assert.deepEqual(pixel(out, x, 500), GREY, `w${side} col ${x}`);
    assert.deepEqual(pixel(out, offset, 500), pixel(img, 0, 500), `w${side} first image column`);
    assert.deepEqual(pixel(out, offset + side - 1, 77), pixel(img, side - 1, 77), `w${side} last image column`);
    for (let x = offset + side; x < 1024; x++) assert.deepEqual(pixel(out, x, 3), GREY, `w${side} col ${x}`);
    // Landscape: same on rows.
    const land = noise(1024, side, side + 1);
    const outL = padToSquare(land, 1024);
    for (let y = 0; y < offset; y++) assert.deepEqual(pixel(outL, 10, y), GREY);
    assert.deepEqual(pixel(outL, 10, offset), pixel(land, 10, 0));
    assert.deepEqual(pixel(outL, 10, offset + side - 1), pixel(land, 10, side - 1));
  }
});

test("padToSquare upscales small images and returns a plain resize when square", () => {
  const small = noise(300, 200);
  const out = padToSquare(small, 1024);
  // 300x200 -> 1024x683 (682.67), offset round(341 * 0.5) = round(170.5) = 170.
  const resized = resizeBicubic(small, 1024, 683);
  assert.deepEqual(pixel(out, 5, 169), GREY);
  assert.deepEqual(pixel(out, 5, 170), pixel(resized, 5, 0));
  assert.deepEqual(pixel(out, 5, 852), pixel(resized, 5, 682));
  assert.deepEqual(pixel(out, 5, 853), GREY);
  const sq = noise(50, 50);
  assert.deepEqual(padToSquare(sq, 64).data, resizeBicubic(sq, 64, 64).data);
});

test("CPython tuple hash and set order reproduce the spec's candidate lists", () => {
  assert.equal(BigInt.asIntN(64, pyTupleHash([1, 2])), -3550055125485641917n);
  assert.equal(BigInt.asIntN(64, pyTupleHash([])), 5740354900026072187n);
  const fmt = (l: [number, number][]) => l.map(([a, b]) => `(${a},${b})`).join(",");
  assert.equal(
    fmt(tileGridCandidates(2, 6)),
    "(1,2),(2,1),(3,1),(1,3),(4,1),(1,4),(2,2),(1,5),(5,1),(6,1),(2,3),(1,6),(3,2)",
  );
  assert.equal(
    fmt(tileGridCandidates(2, 9)),
    "(1,2),(2,1),(3,1),(1,3),(2,2),(4,1),(1,4),(5,1),(1,5),(1,6),(6,1),(3,2),(2,3),(7,1),(1,7),(4,2),(2,4),(1,8),(8,1),(1,9),(3,3),(9,1)",
  );
  assert.deepEqual(pySetOrder([]), []);
  assert.deepEqual(tileGridCandidates(3, 2), []);
});

const V2 = { maxNum: 6, tileSize: 768 };
const V1 = { maxNum: 9, tileSize: 640 };

test("tile grid: spec worked examples (v2)", () => {
  const cases: [number, number, [number, number]][] = [
    [1190, 1684, [2, 3]],
    [1191, 1684, [2, 3]],
    [1224, 1584, [2, 3]],
    [800, 600, [3, 2]],
    [1000, 800, [2, 2]],
    [1920, 1080, [2, 1]],
    [3000, 1000, [3, 1]],
    [769, 500, [3, 2]],
    [1400, 772, [2, 1]],
    [1191, 842, [3, 2]],
  ];
  for (const [w, h, want] of cases) assert.deepEqual(chooseTileGrid(w, h, V2), want, `${w}x${h}`);
});

test("tile grid tie rule: the later candidate wins only if W*H > 0.5 * S^2 * cols * rows", () => {
  // 1250x1000: r = 1.25 ties (2,2) and (3,2) at 0.25; 1 250 000 <= 0.5 * 768^2 * 6 -> (2,2).
  assert.deepEqual(chooseTileGrid(1250, 1000, V2), [2, 2]);
  // Same ratio, area above 1 769 472 -> (3,2).
  assert.deepEqual(chooseTileGrid(1500, 1200, V2), [3, 2]);
  assert.deepEqual(chooseTileGrid(1490, 1192, V2), [3, 2]); // 1 776 080 > 1 769 472
  assert.deepEqual(chooseTileGrid(1485, 1188, V2), [2, 2]); // 1 764 180
  // v1 HF (640, max 9): 1920x1080 ties (2,1) and (4,2); 2 073 600 > 1 638 400 -> (4,2).
  assert.deepEqual(chooseTileGrid(1920, 1080, V1), [4, 2]);
  // vLLM v1 (max 6) picks (2,1) for the same image.
  assert.deepEqual(chooseTileGrid(1920, 1080, { maxNum: 6, tileSize: 640 }), [2, 1]);
  // Equal-product tie, where the CPython set order matters: min = max = 2, r = 1.25 ties (1,2)
  // and (2,1) at 0.75; (1,2) comes first, (2,1) wins only for a large enough image.
  assert.deepEqual(chooseTileGrid(1250, 1000, { minNum: 2, maxNum: 2, tileSize: 768 }), [2, 1]);
  assert.deepEqual(chooseTileGrid(625, 500, { minNum: 2, maxNum: 2, tileSize: 768 }), [1, 2]);
  // No candidates -> (1, 1).
  assert.deepEqual(chooseTileGrid(2000, 1000, { minNum: 2, maxNum: 1, tileSize: 768 }), [1, 1]);
});

test("tiling threshold: v2 tiles only when a side exceeds 768, v1 when it exceeds 640", () => {
  const opts = { baseSize: 1024, imageSize: 768, cropMode: true, version: "v2" as const };
  for (const [w, h, tiled] of [
    [768, 768, false],
    [768, 500, false],
    [769, 500, true],
    [500, 769, true],
    [769, 769, true],
  ] as const) {
    const v = buildViews(noise(w, h), opts);
    assert.equal(v.grid !== null, tiled, `${w}x${h}`);
    assert.equal(v.tiles.length > 0, tiled);
    assert.deepEqual([v.global.width, v.global.height], [1024, 1024]);
    for (const t of v.tiles) assert.deepEqual([t.width, t.height], [768, 768]);
  }
  const v769 = buildViews(noise(769, 500), opts);
  assert.deepEqual(v769.grid, [3, 2]);
  assert.equal(v769.tiles.length, 6);

  const o1 = { baseSize: 1024, imageSize: 640, cropMode: true, version: "v1" as const };
  assert.equal(buildViews(noise(640, 640), o1).grid, null);
  const v1 = buildViews(noise(641, 300), o1);
  assert.ok(v1.grid !== null);
  for (const t of v1.tiles) assert.deepEqual([t.width, t.height], [640, 640]);
});

test("makeTiles: row-major crops of the squashed resize", () => {
  const img = noise(1000, 900);
  const tiles = makeTiles(img, 3, 2, 100);
  const big = resizeBicubic(img, 300, 200);
  assert.equal(tiles.length, 6);
  for (let k = 0; k < 6; k++) {
    const x0 = (k % 3) * 100;
    const y0 = Math.floor(k / 3) * 100;
    assert.deepEqual(pixel(tiles[k], 0, 0), pixel(big, x0, y0));
    assert.deepEqual(pixel(tiles[k], 99, 99), pixel(big, x0 + 99, y0 + 99));
  }
});

test("non-crop mode: squash to image_size when <= tile size, then pad to image_size", () => {
  const img = noise(900, 600);
  // v2 image_size 768: squashed to 768x768 (pitfall: aspect not kept), pad is then a no-op.
  const v768 = buildViews(img, { baseSize: 1024, imageSize: 768, cropMode: false, version: "v2" });
  assert.equal(v768.grid, null);
  assert.deepEqual(v768.global.data, resizeBicubic(img, 768, 768).data);
  // v2 image_size 1024: padded, aspect kept.
  const v1024 = buildViews(img, { baseSize: 1024, imageSize: 1024, cropMode: false, version: "v2" });
  assert.deepEqual(v1024.global.data, padToSquare(img, 1024).data);
  // v1 threshold is 640: 640 squashes, 1024 pads.
  const s640 = buildViews(img, { baseSize: 640, imageSize: 640, cropMode: false, version: "v1" });
  assert.deepEqual(s640.global.data, resizeBicubic(img, 640, 640).data);
  const s768v1 = buildViews(img, { baseSize: 768, imageSize: 768, cropMode: false, version: "v1" });
  assert.deepEqual(s768v1.global.data, padToSquare(img, 768).data);
});

test("maxTiles: 0 = crop mode off, 1 = no tiles, n caps the grid", () => {
  const page = noise(1191, 1684);
  const base = { baseSize: 1024, imageSize: 768, cropMode: true, version: "v2" as const };
  const off = buildViews(page, { ...base, maxTiles: 0 });
  assert.equal(off.grid, null);
  assert.deepEqual(off.global.data, resizeBicubic(page, 768, 768).data);
  const one = buildViews(page, { ...base, maxTiles: 1 });
  assert.equal(one.grid, null);
  assert.equal(one.tiles.length, 0);
  assert.deepEqual([one.global.width, one.global.height], [1024, 1024]);
  const two = buildViews(page, { ...base, maxTiles: 2 });
  assert.deepEqual(two.grid, [1, 2]);
  assert.equal(two.tiles.length, 2);
  assert.deepEqual(buildViews(page, { ...base, maxTiles: 6 }).grid, [2, 3]);
  // v1 default max 9 vs capped at 6.
  const wide = noise(1920, 1080);
  const g = { baseSize: 1024, imageSize: 640, cropMode: true, version: "v1" as const };
  assert.deepEqual(buildViews(wide, g).grid, [4, 2]);
  assert.deepEqual(buildViews(wide, { ...g, maxTiles: 6 }).grid, [2, 1]);
});

test("1x1 image: upscaled to a uniform global view", () => {
  const img = createRgbImage(1, 1, [10, 200, 30]);
  const v = buildViews(img, { baseSize: 1024, imageSize: 768, cropMode: true, version: "v2" });
  assert.equal(v.grid, null);
  assert.deepEqual(pixel(v.global, 0, 0), [10, 200, 30]);
  assert.deepEqual(pixel(v.global, 1023, 1023), [10, 200, 30]);
});
