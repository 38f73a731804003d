// The native kernels' API: kernel selection (getKernels, DSOCR_KERNELS, DSOCR_ISA), CPU features,
// argument validation (RangeError / TypeError before native code runs, and the addon's own checks),
// and thread-count independence (setThreads(1) vs 2 vs 3 give bit-identical results).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Kernels, Weight } from "./deps.ts";
import { cpuFeatures, defaultIsa, getKernels, loadAddon, referenceKernels, supportedIsaLevels } from "./deps.ts";
import { nativeLevels, randArray, randWeight, rng } from "./helpers.ts";

const levels = nativeLevels();

function withEnv<T>(name: string, value: string | undefined, f: () => T): T {
  const old = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return f();
  } finally {
    if (old === undefined) delete process.env[name];
    else process.env[name] = old;
  }
}

describe("selection", () => {
  test("cpuFeatures reports the flags, a model name and the best level", () => {
    const f = cpuFeatures();
    for (const k of ["avx2", "fma", "avx512f", "avx512bf16", "avx512vnni"] as const)
      assert.equal(typeof f[k], "boolean");
    assert.ok(f.model.length > 0);
    const levelsHere = supportedIsaLevels();
    assert.equal(levelsHere[0], "scalar");
    assert.equal(levelsHere.at(-1), f.bestIsa);
    if (f.bestIsa !== "scalar") assert.ok(f.avx2 && f.fma);
    if (f.bestIsa === "avx512") assert.ok(f.avx512f);
  });

  test("getKernels returns the native kernels, or the reference with DSOCR_KERNELS=reference", () => {
    const k = withEnv("DSOCR_KERNELS", undefined, () => getKernels());
    assert.match(k.name, /^native-(scalar|avx2|avx512)$/);
    assert.equal(
      withEnv("DSOCR_KERNELS", "reference", () => getKernels()),
      referenceKernels,
    );
    assert.throws(() => withEnv("DSOCR_KERNELS", "gpu", () => getKernels()), /DSOCR_KERNELS/);
  });

  test("DSOCR_ISA picks a lower level, never a higher one", () => {
    const best = cpuFeatures().bestIsa;
    assert.equal(withEnv("DSOCR_ISA", undefined, defaultIsa), best);
    assert.equal(withEnv("DSOCR_ISA", "scalar", defaultIsa), "scalar");
    assert.equal(withEnv("DSOCR_ISA", "avx512", defaultIsa), best);
    if (best !== "scalar") assert.equal(withEnv("DSOCR_ISA", "avx2", defaultIsa), "avx2");
    assert.throws(() => withEnv("DSOCR_ISA", "sse9", defaultIsa), RangeError);
  });

  test("names follow the level", () => {
    assert.deepEqual(
      levels.map((k) => k.name),
      supportedIsaLevels().map((l) => `native-${l}`),
    );
  });
});

describe("validation", () => {
  const K = levels.at(-1) as Kernels;
  const w: Weight = { dtype: "bf16", data: new Uint16Array(12), rows: 3, cols: 4 };

  test("linear", () => {
    assert.throws(() => K.linear(new Float32Array(7), 2, w), RangeError);
    assert.throws(() => K.linear(new Float32Array(8), 2, w, new Float32Array(2)), RangeError);
    assert.throws(() => K.linear(new Float32Array(8), 2, { ...w, data: new Uint16Array(11) }), RangeError);
    assert.throws(
      () =>
        K.linear(new Float32Array(8), 2, {
          dtype: "bf16",
          data: new Float32Array(12),
          rows: 3,
          cols: 4,
        } as unknown as Weight),
      TypeError,
    );
    assert.throws(() => K.linear(new Float32Array(8), 1.5, w), RangeError);
    assert.throws(() => K.linear(new Float64Array(8) as unknown as Float32Array, 2, w), TypeError);
  });

  test("norms, elementwise, rope", () => {
    const x = new Float32Array(12);
    assert.throws(() => K.layerNorm(x, 3, 5, new Float32Array(5), new Float32Array(5), 1e-6), RangeError);
    assert.throws(() => K.layerNorm(x, 3, 4, new Float32Array(4), new Float32Array(3), 1e-6), RangeError);
    assert.throws(() => K.rmsNorm(x, 3, 4, new Float32Array(5), 1e-6), RangeError);
    assert.throws(() => K.softmax(x, 5, 3), RangeError);
    assert.throws(() => K.add(x, new Float32Array(11)), RangeError);
    assert.throws(() => K.swiglu(x, new Float32Array(13)), RangeError);
    assert.throws(() => K.rope(x, 2, 2, 3, new Int32Array(2), 1e4), RangeError);
    assert.throws(() => K.rope(x, 3, 1, 4, new Int32Array(2), 1e4), RangeError);
    assert.throws(() => K.rope(x, 3, 1, 4, new Float32Array(3) as unknown as Int32Array, 1e4), TypeError);
  });

  test("attention", () => {
    const base = { lq: 2, lk: 3, heads: 2, kvHeads: 1, headDim: 4, scale: 0.5 };
    const q = new Float32Array(16);
    const kv = new Float32Array(12);
    assert.doesNotThrow(() => K.attention(q, kv, kv, base));
    assert.throws(() => K.attention(q, new Float32Array(11), kv, base), RangeError);
    assert.throws(() => K.attention(q, kv, kv, { ...base, lkCapacity: 4 }), RangeError);
    assert.throws(() => K.attention(q, kv, kv, { ...base, lkCapacity: 2 }), RangeError);
    assert.throws(() => K.attention(q, kv, kv, { ...base, kvHeads: 3 }), RangeError);
    assert.throws(() => K.attention(q, kv, kv, { ...base, mask: new Float32Array(5) }), RangeError);
    assert.throws(() => K.attention(q, kv, kv, { ...base, causalOffset: -1 }), RangeError);
    assert.throws(
      () =>
        K.attention(q, kv, kv, {
          ...base,
          relPos: { h: 1, w: 2, tableH: new Float32Array(4), tableW: new Float32Array(12) },
        }),
      RangeError,
    );
  });

  test("conv2d", () => {
    const p = { c: 2, h: 4, w: 4, k: 3, stride: 1, pad: 1 };
    const cw: Weight = { dtype: "f32", data: new Float32Array(5 * 18), rows: 5, cols: 18 };
    assert.equal(K.conv2d(new Float32Array(32), cw, null, p).length, 5 * 16);
    assert.throws(() => K.conv2d(new Float32Array(31), cw, null, p), RangeError);
    assert.throws(
      () => K.conv2d(new Float32Array(32), { ...cw, cols: 17, data: new Float32Array(85) }, null, p),
      RangeError,
    );
    assert.throws(() => K.conv2d(new Float32Array(32), cw, new Float32Array(4), p), RangeError);
    assert.throws(() => K.conv2d(new Float32Array(32), cw, null, { ...p, stride: 0 }), RangeError);
    assert.throws(() => K.conv2d(new Float32Array(32), cw, null, { ...p, k: 7, pad: 1 }), RangeError);
  });

  test("the addon checks sizes itself when called directly", () => {
    const A = loadAddon();
    const x = new Float32Array(8);
    const out = new Float32Array(6);
    assert.throws(() => A.linear(0, x, 2, new Uint16Array(11), 3, 4, null, out), RangeError);
    assert.throws(() => A.linear(0, x, 3, new Uint16Array(12), 3, 4, null, out), RangeError);
    assert.throws(() => A.linear(0, x, 2, new Uint16Array(12), 3, 4, null, new Float32Array(5)), RangeError);
    assert.throws(() => A.linear(0, x, 2, new Int16Array(12) as unknown as Uint16Array, 3, 4, null, out), TypeError);
    assert.throws(() => A.linear(7, x, 2, new Uint16Array(12), 3, 4, null, out), RangeError);
    assert.throws(() => A.softmax(0, x, 3, 3), RangeError);
    assert.throws(
      () => A.attention(0, x, x, x, x, 1, 2, 2, 1, 1, 4, 1, false, 0, 1, null, null, null, 0, 0, false),
      RangeError,
    );
    assert.throws(
      () => A.conv2d(0, new Float32Array(4), 1, 2, 2, 3, 1, 0, new Float32Array(9), 1, null, new Float32Array(1)),
      RangeError,
    );
  });
});

describe("threads", () => {
  test("setThreads / getThreads", () => {
    const K = levels[0];
    const before = K.getThreads();
    assert.ok(before >= 1);
    K.setThreads(3);
    assert.equal(K.getThreads(), 3);
    assert.equal(levels.at(-1)?.getThreads(), 3, "one pool shared by every kernel set");
    K.setThreads(before);
    assert.equal(K.getThreads(), before);
    assert.throws(() => K.setThreads(0), RangeError);
  });

  test("idle workers park instead of spinning", async () => {
    const K = levels.at(-1) as Kernels;
    const before = K.getThreads();
    try {
      K.setThreads(2);
      const x = new Float32Array(1 << 20);
      K.gelu(x); // wakes the worker
      await new Promise((r) => setTimeout(r, 100)); // its spin window (~1 ms) is long over
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 400));
      const wallMs = performance.now() - t0;
      const u = process.cpuUsage(cpu0);
      const cpuMs = (u.user + u.system) / 1000;
      assert.ok(cpuMs < 0.5 * wallMs, `process used ${cpuMs.toFixed(0)} ms of CPU in ${wallMs.toFixed(0)} ms idle`);
    } finally {
      K.setThreads(before);
    }
  });

  test("1, 2 and 3 threads give bit-identical results (plain, bf16 and int8 weights, f32 and bf16 attention)", () => {
    const r = rng(77);
    const wBig = randWeight(r, "bf16", 300, 260);
    const xBig = randArray(r, 211 * 260);
    const xSmall = randArray(r, 5 * 260);
    const bias = randArray(r, 300);
    const q = randArray(r, 2 * 150 * 4 * 16);
    const kv = randArray(r, 2 * 150 * 2 * 16);
    const att = { batch: 2, lq: 150, lk: 150, heads: 4, kvHeads: 2, headDim: 16, scale: 0.25, causalOffset: 0 };
    const dec = { lq: 1, lk: 150, heads: 2, kvHeads: 2, headDim: 16, scale: 0.25, causalOffset: 149 };
    const img = randArray(r, 8 * 30 * 30);
    const cw = randWeight(r, "f32", 24, 8 * 9);
    const act = randArray(r, 100000, -6, 6);
    const ln = randArray(r, 64 * 700);
    const lw = randArray(r, 700);
    // Packed weights per level (bf16 and int8: their decode kernels and large-M GEMMs, the int8 one
    // on vdpbf16ps where the CPU has it) and attention on bf16 products.
    const packs = new Map(levels.map((K) => [K, [K.packWeight(wBig, "bf16"), K.packWeight(wBig, "int8")]]));
    const run = (K: Kernels) => [
      K.linear(xBig, 211, wBig, bias),
      K.linear(xSmall, 5, wBig, null),
      ...(packs.get(K) ?? []).flatMap((p) => [K.linear(xBig, 211, p, bias), K.linear(xSmall, 5, p, null)]),
      K.attention(q, kv, kv, att),
      K.attention(q, kv, kv, { ...att, bf16: true }),
      K.attention(q.subarray(0, 32), kv.subarray(0, 150 * 32), kv.subarray(0, 150 * 32), dec),
      K.conv2d(img, cw, null, { c: 8, h: 30, w: 30, k: 3, stride: 1, pad: 1 }),
      (() => {
        const y = act.slice();
        K.gelu(y);
        return y;
      })(),
      K.layerNorm(ln, 64, 700, lw, lw, 1e-6),
      (() => {
        const y = ln.slice();
        K.softmax(y, 64, 700);
        return y;
      })(),
    ];
    const before = levels[0].getThreads();
    try {
      for (const K of levels) {
        K.setThreads(1);
        const one = run(K);
        for (const n of [2, 3]) {
          K.setThreads(n);
          const many = run(K);
          for (let i = 0; i < one.length; i++)
            assert.deepEqual(many[i], one[i], `${K.name} result ${i} with ${n} threads`);
        }
      }
    } finally {
      levels[0].setThreads(before);
    }
  });
});

describe("releaseWeight", () => {
  test("frees a packed weight now: later uses throw, a second release is a no-op", () => {
    const k = getKernels();
    const w = randWeight(rng(7), "bf16", 24, 40);
    const x = randArray(rng(8), 3 * 40);
    for (const format of ["bf16", "int8"] as const) {
      const p = k.packWeight(w, format);
      const y = k.linear(x, 3, p);
      assert.equal(y.length, 3 * 24);
      assert.ok(k.releaseWeight, "the native kernels release packed weights");
      k.releaseWeight?.(p);
      assert.throws(() => k.linear(x, 3, p), /released/);
      k.releaseWeight?.(p);
    }
  });
});
