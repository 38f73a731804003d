/**
 * Unit tests of the vision building blocks that the fixtures pin only indirectly: the f32 resamplers
 * (spec 5.1 step 2-3, 10.3), the Qwen2 encoder's mixed mask (spec 5.2 step 4), the view geometry and
 * token counts (spec 4.4), input validation, and the fixture helper's comparisons.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { loadConfig, REAL_SAM } from "../../src/config/config.ts";
import type { ModelConfig } from "../../src/config/types.ts";
import { referenceKernels } from "../../src/kernels/reference.ts";
import { resizeBicubicAntialias, resizeLinear1d } from "../../src/model/interpolate.ts";
import { buildCausalFlowMask, F32_MIN } from "../../src/model/qwen2-encoder.ts";
import { convOutSize, roundToBf16, samGeometry, transpose2d } from "../../src/model/sam.ts";
import { VisionV2, v2ImageTokenCount } from "../../src/model/vision-v2.ts";
import { assertClose, assertStatsClose, strided } from "../helpers/fixture-case.ts";
import { FIXTURES } from "../helpers/paths.ts";

/** Deterministic pseudo-random values in [-1, 1). */
function rand(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Independent float64 antialiased bicubic (a = -0.5) of one planar channel, written from the spec's
 * formula (spec 3.5 window and weights, without the fixed-point steps): width pass, then height pass.
 */
function bicubicAaF64(src: number[][], outH: number, outW: number): number[][] {
  const keys = (x: number) => {
    const a = -0.5;
    x = Math.abs(x);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  const axis = (inSize: number, outSize: number) => {
    const scale = inSize / outSize;
    const fs = Math.max(scale, 1);
    const support = 2 * fs;
    return Array.from({ length: outSize }, (_, i) => {
      const center = (i + 0.5) * scale;
      const lo = Math.max(Math.trunc(center - support + 0.5), 0);
      const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
      const w: number[] = [];
      for (let k = lo; k < hi; k++) w.push(keys((k - center + 0.5) / fs));
      const t = w.reduce((p, q) => p + q, 0);
      return { lo, w: w.map((v) => v / t) };
    });
  };
  const inH = src.length;
  const inW = src[0].length;
  const ax = axis(inW, outW);
  const ay = axis(inH, outH);
  const tmp = src.map((row) => ax.map(({ lo, w }) => w.reduce((s, wk, k) => s + wk * row[lo + k], 0)));
  return ay.map(({ lo, w }) =>
    Array.from({ length: outW }, (_, x) => w.reduce((s, wk, k) => s + wk * tmp[lo + k][x], 0)),
  );
}

describe("resizeBicubicAntialias", () => {
  for (const [inS, outS] of [
    [64, 48],
    [64, 40],
    [64, 32],
    [64, 80],
    [7, 3],
    [3, 7],
  ]) {
    it(`${inS}x${inS} -> ${outS}x${outS} matches a float64 Keys a=-0.5 antialias filter`, () => {
      const ch = 3;
      const src = rand(inS * inS * ch, inS * 100 + outS);
      const got = resizeBicubicAntialias(src, inS, inS, ch, outS, outS);
      assert.equal(got.length, outS * outS * ch);
      for (let c = 0; c < ch; c++) {
        const plane = Array.from({ length: inS }, (_, y) =>
          Array.from({ length: inS }, (_, x) => src[(y * inS + x) * ch + c]),
        );
        const want = bicubicAaF64(plane, outS, outS).flat();
        const mine = Array.from({ length: outS * outS }, (_, i) => got[i * ch + c]);
        // The f32 scale (in/out rounded to f32, as PyTorch computes it for f32 tensors) moves the far
        // centres by up to ~64 * 3e-8: differences of a few 1e-6 from the float64 formula are expected;
        // a wrong kernel, window or pass order gives errors of 1e-2.
        assertClose(mine, want, { abs: 2e-5, rel: 1e-4 }, `channel ${c}`);
      }
    });
  }

  it("keeps constants, copies at equal size, resizes the axes independently", () => {
    const c = new Float32Array(64 * 64 * 2).fill(0.75);
    for (const v of resizeBicubicAntialias(c, 64, 64, 2, 48, 48)) assert.ok(Math.abs(v - 0.75) < 1e-6);
    const src = rand(5 * 6 * 2);
    const same = resizeBicubicAntialias(src, 5, 6, 2, 5, 6);
    assert.deepEqual(same, src);
    assert.notEqual(same, src);
    const rect = resizeBicubicAntialias(src, 5, 6, 2, 5, 3);
    assert.equal(rect.length, 5 * 3 * 2);
  });

  it("rejects a wrong length", () => {
    assert.throws(() => resizeBicubicAntialias(new Float32Array(10), 2, 2, 2, 1, 1), RangeError);
  });
});

describe("resizeLinear1d (align_corners False)", () => {
  it("downscales and upscales like torch linear", () => {
    // [0,1,2,3] -> 2: sources 0.5 and 2.5
    assert.deepEqual(Array.from(resizeLinear1d(Float32Array.of(0, 1, 2, 3), 4, 1, 2)), [0.5, 2.5]);
    // [0,1] -> 4: sources clamp(-0.25)=0, 0.25, 0.75, 1.25 (right neighbour clamped)
    assert.deepEqual(Array.from(resizeLinear1d(Float32Array.of(0, 1), 2, 1, 4)), [0, 0.25, 0.75, 1]);
  });

  it("resizes each column of [len, channels] independently (127 -> 95 rel-pos rows)", () => {
    const src = new Float32Array(127 * 2);
    for (let i = 0; i < 127; i++) {
      src[2 * i] = i;
      src[2 * i + 1] = -2 * i;
    }
    const out = resizeLinear1d(src, 127, 2, 95);
    const scale = 127 / 95;
    for (let i = 0; i < 95; i++) {
      const s = Math.min(Math.max(scale * (i + 0.5) - 0.5, 0), 126);
      assert.ok(Math.abs(out[2 * i] - s) < 1e-4, `row ${i}`);
      assert.ok(Math.abs(out[2 * i + 1] + 2 * s) < 2e-4, `row ${i}`);
    }
    assert.deepEqual(resizeLinear1d(src, 127, 2, 127), src);
  });
});

describe("Qwen2 encoder mask", () => {
  it("opens image x image, query x image and causal query x query only", () => {
    const n = 3;
    const m = buildCausalFlowMask(n);
    const open = (r: number, c: number) => m[r * 2 * n + c] === 0;
    for (let r = 0; r < 2 * n; r++) {
      for (let c = 0; c < 2 * n; c++) {
        const want = r < n ? c < n : c < n || c <= r;
        assert.equal(open(r, c), want, `(${r}, ${c})`);
        if (!want) assert.equal(m[r * 2 * n + c], F32_MIN);
      }
    }
    assert.equal(F32_MIN, -3.4028234663852886e38);
    assert.ok(Number.isFinite(Math.fround(F32_MIN)));
  });
});

describe("SAM geometry and token counts", () => {
  it("gives 16x16 for 1024 px and 12x12 for 768 px (v1: 640, 512, 1280)", () => {
    const want: Record<number, number> = { 1024: 16, 768: 12, 640: 10, 512: 8, 1280: 20 };
    for (const [s, g] of Object.entries(want)) {
      const geo = samGeometry(REAL_SAM, Number(s));
      assert.equal(geo.outGrid, g);
      assert.equal(geo.tokens, g * g);
      assert.equal(geo.grid, Number(s) / 16);
    }
    assert.equal(convOutSize(64, 3, 2, 1), 32);
    assert.throws(() => samGeometry(REAL_SAM, 8), RangeError);
  });

  it("counts tiles*144 + 256 + 1 rows", () => {
    const cfg = { sam: REAL_SAM } as ModelConfig;
    assert.equal(v2ImageTokenCount(cfg, 1024, 768, 6), 1121);
    assert.equal(v2ImageTokenCount(cfg, 1024, 768, 2), 545);
    assert.equal(v2ImageTokenCount(cfg, 1024, 768, 0), 257);
  });

  it("transposes and rounds pixels to bf16", () => {
    assert.deepEqual(Array.from(transpose2d(Float32Array.of(1, 2, 3, 4, 5, 6), 2, 3)), [1, 4, 2, 5, 3, 6]);
    const r = roundToBf16(Float32Array.of(1 + 2 ** -9, 1 + 3 * 2 ** -9, -0.0039215686));
    // the padding grey 127 -> -0.0039215686 rounds up in magnitude to -(1 + 1/128) / 256
    assert.deepEqual(Array.from(r), [1, 1 + 2 ** -7, -(1 + 1 / 128) / 256]);
  });
});

describe("VisionV2 input validation", () => {
  const dir = `${FIXTURES}/models/tiny-v2`;
  it("rejects a view of the wrong length or without a query table before computing", () => {
    const ckpt = openCheckpoint(dir);
    try {
      const v = VisionV2.load({ ckpt, k: referenceKernels }, loadConfig(dir));
      assert.deepEqual(v.qwen2.supportedTokenCounts(), [144, 256]);
      assert.equal(v.nEmbed, 32);
      const g = new Float32Array(3 * 1024 * 1024);
      assert.throws(
        () => v.encodeImage({ global: g, globalSize: 1024, tiles: [new Float32Array(5)], tileSize: 768 }),
        RangeError,
      );
      assert.throws(
        () => v.encodeImage({ global: new Float32Array(3 * 512 * 512), globalSize: 512, tiles: [], tileSize: 768 }),
        /query tables for 144, 256/,
      );
      assert.throws(() => v.qwen2.forward(new Float32Array(64 * 64), 64), RangeError);
    } finally {
      ckpt.close();
    }
  });
});

describe("fixture helper comparisons", () => {
  it("assertClose names the worst element", () => {
    const r = assertClose([1, 2, 3], [1, 2, 3.0001], { abs: 2e-4, rel: 0 }, "ok");
    assert.equal(r.worstIndex, 2);
    assert.throws(
      () => assertClose([1, 2.5, 3], [1, 2, 3.1], { abs: 1e-3, rel: 0 }, "t"),
      (e: Error) => /2 of 3 values/.test(e.message) && /worst at \[1\]/.test(e.message),
    );
    assert.throws(() => assertClose([Number.NaN], [0], { abs: 1, rel: 1 }, "nan"));
    assert.throws(() => assertClose([1], [1, 2], { abs: 1, rel: 1 }, "len"));
  });

  it("strided sampling and stats", () => {
    assert.deepEqual(Array.from(strided([0, 1, 2, 3, 4, 5, 6], 3)), [0, 3, 6]);
    const x = Float32Array.of(1, -2, 3);
    const stats = { sum: 2, abs_sum: 6, min: -2, max: 3, l2: Math.sqrt(14), numel: 3 };
    assertStatsClose(x, stats, { abs: 1e-4, rel: 0 }, "s");
    assert.throws(() => assertStatsClose(x, { ...stats, sum: 2.01 }, { abs: 1e-4, rel: 0 }, "s"), /sum/);
    assert.throws(() => assertStatsClose(x, { ...stats, max: 3.01 }, { abs: 1e-4, rel: 0 }, "s"), /max/);
  });
});
