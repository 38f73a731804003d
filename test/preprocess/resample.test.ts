/**
 * resizeBicubic against a literal, unoptimised transcription of Pillow's Resample.c
 * (per-pixel loops, horizontal pass over every row, then vertical), including one-axis and
 * extreme resizes the fixtures do not cover, plus a speed check.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RgbImage } from "../../src/preprocess/image.ts";
import { bicubicAxisCoeffs, resizeBicubic } from "../../src/preprocess/resample.ts";

function noise(width: number, height: number, seed = 7): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // Mix smooth areas and hard edges (text-like) so clipping paths are exercised.
    data[i] = (i / 3) % 17 < 3 ? 0 : (i / 3) % 23 < 2 ? 255 : s >>> 24;
  }
  return { width, height, data };
}

/** Straight transcription of precompute_coeffs + normalize_coeffs_8bpc (doubles -> int). */
function refCoeffs(inSize: number, outSize: number) {
  const filter = (x: number) => {
    const a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  };
  const scale = (inSize - 0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2.0 * filterscale;
  const res: { xmin: number; k: number[] }[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = 0 + (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const w: number[] = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = filter((x + xmin - center + 0.5) * ss);
      w.push(v);
      ww += v;
    }
    const k = w.map((v) => {
      const n = ww !== 0 ? v / ww : v;
      // + 0 turns a JS -0 into the C int 0.
      return (n < 0 ? Math.trunc(-0.5 + n * 4194304) : Math.trunc(0.5 + n * 4194304)) + 0;
    });
    res.push({ xmin, k });
  }
  return res;
}

function refResize(img: RgbImage, w: number, h: number): RgbImage {
  const clip = (ss: number) => Math.min(255, Math.max(0, Math.floor(ss / 4194304)));
  let cur = img;
  if (w !== img.width) {
    const cs = refCoeffs(img.width, w);
    const out = new Uint8Array(w * img.height * 3);
    for (let y = 0; y < img.height; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) {
          let ss = 1 << 21;
          cs[x].k.forEach((k, i) => {
            ss += img.data[(y * img.width + cs[x].xmin + i) * 3 + c] * k;
          });
          out[(y * w + x) * 3 + c] = clip(ss);
        }
    cur = { width: w, height: img.height, data: out };
  }
  if (h !== img.height) {
    const cs = refCoeffs(img.height, h);
    const out = new Uint8Array(cur.width * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < cur.width; x++)
        for (let c = 0; c < 3; c++) {
          let ss = 1 << 21;
          cs[y].k.forEach((k, i) => {
            ss += cur.data[((cs[y].xmin + i) * cur.width + x) * 3 + c] * k;
          });
          out[(y * cur.width + x) * 3 + c] = clip(ss);
        }
    cur = { width: cur.width, height: h, data: out };
  }
  return cur;
}

test("coefficients equal the literal transcription", () => {
  for (const [i, o] of [
    [1191, 724],
    [1684, 2304],
    [10, 3],
    [3, 10],
    [1, 1024],
    [4000, 1],
    [772, 565],
  ]) {
    const fast = bicubicAxisCoeffs(i, o);
    const ref = refCoeffs(i, o);
    for (let xx = 0; xx < o; xx++) {
      assert.equal(fast.start[xx], ref[xx].xmin);
      assert.equal(fast.count[xx], ref[xx].k.length);
      assert.deepEqual([...fast.weights.subarray(xx * fast.ksize, xx * fast.ksize + ref[xx].k.length)], ref[xx].k);
    }
  }
});

test("resizeBicubic equals the reference on down/up/one-axis/extreme sizes", () => {
  const sizes: [number, number, number, number][] = [
    [37, 23, 19, 11], // down both
    [37, 23, 80, 61], // up both
    [37, 23, 37, 50], // vertical only
    [37, 23, 12, 23], // horizontal only
    [37, 23, 90, 9], // up x, down y (row box narrower than the image)
    [1, 1, 17, 5], // from a single pixel
    [64, 48, 1, 1], // to a single pixel
    [120, 7, 31, 29],
  ];
  for (const [iw, ih, ow, oh] of sizes) {
    const img = noise(iw, ih, iw * 31 + ih);
    const got = resizeBicubic(img, ow, oh);
    const want = refResize(img, ow, oh);
    assert.deepEqual([got.width, got.height], [ow, oh]);
    assert.ok(Buffer.from(got.data).equals(Buffer.from(want.data)), `${iw}x${ih} -> ${ow}x${oh}`);
  }
});

test("same size gives an independent copy", () => {
  const img = noise(9, 4);
  const out = resizeBicubic(img, 9, 4);
  assert.notEqual(out.data, img.data);
  assert.deepEqual(out.data, img.data);
});

test("rejects non-positive or fractional sizes", () => {
  assert.throws(() => resizeBicubic(noise(4, 4), 0, 4), RangeError);
  assert.throws(() => resizeBicubic(noise(4, 4), 4, 2.5), RangeError);
});

test("1191x1684 -> 1536x2304 in well under a second", () => {
  const img = noise(1191, 1684);
  resizeBicubic(img, 1536, 2304); // warm-up (JIT)
  const t0 = performance.now();
  resizeBicubic(img, 1536, 2304);
  const ms = performance.now() - t0;
  assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
});
