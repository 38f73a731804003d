// The bench's counting functions (bench/counts.ts) on hand-checkable configs, the targets and the
// JSON schema of bench/report.ts, and one `bench --quick --only gemm` run on a tiny shape. No timing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  decodeBytes,
  encodeFlops,
  gemmFlops,
  gemmName,
  kvCacheBytes,
  modelGemmShapes,
  prefillFlops,
  qwen2EncoderFlops,
  samDims,
  samFlops,
  viewFlops,
  weightBytes,
} from "../../bench/counts.ts";
import { applyTargets, buildReport, result, writeJson } from "../../bench/report.ts";
import { loadConfig } from "../../src/config/config.ts";
import type { SamConfig } from "../../src/config/types.ts";
import { defaultIsa, supportedIsaLevels } from "../../src/kernels/index.ts";

const PRESETS = join(import.meta.dirname, "..", "..", "src", "checkpoint", "presets");
const tiny = loadConfig(join(PRESETS, "tiny-v2.json"));
const full = loadConfig(join(PRESETS, "full-v2.json"));

describe("bench counts", () => {
  test("gemm: 2·M·K·N and the name", () => {
    assert.equal(gemmFlops(2, 3, 4), 48);
    assert.equal(gemmName({ m: 4096, k: 768, n: 2304 }, "bf16"), "gemm.4096x768x2304.bf16");
  });

  test("SAM geometry: padded windows", () => {
    const d = samDims(full.sam, 1024);
    assert.deepEqual([d.g, d.nw, d.windowRows, d.mlpHidden, d.g2, d.g3, d.tokens], [64, 5, 4900, 3072, 32, 16, 256]);
    const t = samDims(full.sam, 768);
    assert.deepEqual([t.g, t.nw, t.windowRows, t.tokens], [48, 4, 3136, 144]);
  });

  test("SAM FLOPs of a 32-px view of a small SAM (summed by hand)", () => {
    const sam: SamConfig = {
      ...tiny.sam,
      embedDim: 32,
      depth: 4,
      numHeads: 2,
      globalAttnIndexes: [1, 3],
      outChans: 16,
      downsampleChannels: [32, 64],
      patchSize: 16,
      windowSize: 14,
      mlpRatio: 4,
    };
    // g = 2: patch 196608; global blocks 101376 each; windowed blocks (196 padded rows) 6939648 each;
    // neck0 4096, neck2 18432, net_2 9216, net_3 36864.
    assert.equal(samFlops(sam, 32), 196608 + 2 * 101376 + 2 * 6939648 + 4096 + 18432 + 9216 + 36864);
  });

  test("Qwen2 encoder FLOPs (tiny: 2 layers, hidden 64, kv 32, MLP 128) for n = 1", () => {
    // per layer: q,o 32768; k,v 16384; QKᵀ + PV 1024; MLP 98304
    assert.equal(qwen2EncoderFlops(tiny.qwen2!, 1), 2 * (32768 + 16384 + 1024 + 98304));
  });

  test("encode = tiles x 768 view + the 1024 view", () => {
    assert.equal(encodeFlops(tiny, 0), viewFlops(tiny, 1024));
    assert.equal(encodeFlops(tiny, 6), 6 * viewFlops(tiny, 768) + viewFlops(tiny, 1024));
    const tb = encodeFlops(full, 0) / 1e12;
    assert.ok(tb > 0.5 && tb < 2, `encode.tiles0 of the real model: ${tb} TFLOP`);
  });

  test("prefill FLOPs (tiny LM, 4 rows)", () => {
    // attention per layer 32768 + causal 1280 (x3); dense layer 0 73728; MoE layers: router 4096,
    // top-6 routed 110592, shared 36864 (x2); lm_head of the last row 8273920
    assert.equal(prefillFlops(tiny.language, 4), 3 * 34048 + 73728 + 2 * 151552 + 8273920);
  });

  test("decode bytes per token (tiny LM, bf16 and int8)", () => {
    assert.equal(decodeBytes(tiny.language, "bf16"), 24576 + 18432 + 2 * 37888 + 8273920 + 64);
    assert.equal(decodeBytes(tiny.language, "int8"), 13824 + 10112 + 2 * 21888 + 4654080 + 64);
    // int8 scales: one f32 per group of a row (tiny's K are all below one 128-group)
    assert.equal(weightBytes(4, 200, "int8", 64), 800 + 4 * 4 * 4);
    assert.equal(weightBytes(4, 256, "int8"), 1024 + 4 * 2 * 4);
    const gb = decodeBytes(full.language, "bf16") / 1e9;
    assert.ok(gb > 1.1 && gb < 1.2, `real model: ${gb} GB per token`);
    const ratio = decodeBytes(full.language, "int8") / decodeBytes(full.language, "bf16");
    assert.ok(ratio > 0.5 && ratio < 0.53, `int8/bf16 = ${ratio}`);
    // batched: the shared weights are read once, routed experts as the expected distinct count
    assert.ok(decodeBytes(full.language, "bf16", 8) < 8 * decodeBytes(full.language, "bf16"));
    // KV cache read per step: 12 layers x (K, V) x positions x 1280 (10 kv heads x 128) x 2 B (bf16).
    assert.equal(kvCacheBytes(full.language, 1131), 12 * 2 * 1131 * 1280 * 2);
    assert.equal(kvCacheBytes(full.language, 1131, 4), 2 * kvCacheBytes(full.language, 1131));
  });

  test("the real model's GEMM shapes include the issue's", () => {
    const names = modelGemmShapes(full, 1131).map((s) => `${s.m}x${s.k}x${s.n}`);
    for (const s of [
      "4096x768x2304",
      "4900x768x2304",
      "2304x768x3072",
      "4096x3072x768",
      "512x896x4864",
      "288x896x1152", // Qwen2 encoder q/k/v stacked (896 + 2 * 128)
      "256x896x1280",
      "1131x1280x1280",
      "1131x1280x3840", // LM q/k/v stacked
      "1131x1280x6848",
      "1131x6848x1280",
      "1131x1280x1792",
      "107x1280x896",
    ])
      assert.ok(names.includes(s), s);
    assert.equal(new Set(names).size, names.length);
    // Separate k/v projections are gone; the router runs in f32 only.
    assert.ok(!names.includes("288x896x128"));
    const router = modelGemmShapes(full, 1131).find((s) => s.n === full.language.nRoutedExperts);
    assert.deepEqual(router?.precisions, ["f32"]);
    // The language model's other linears also run over int8 weights; the vision encoder's never.
    const shapes = modelGemmShapes(full, 1131);
    for (const s of shapes) {
      const lm = s.uses.every((u) => u.startsWith("lm."));
      const want = s.n === full.language.nRoutedExperts ? ["f32"] : lm ? ["f32", "bf16", "int8"] : undefined;
      assert.deepEqual(s.precisions, want, s.uses.join(","));
    }
  });
});

describe("bench report", () => {
  test("targets and percent of limit", () => {
    const rs = [
      result("gemm.1x2x3.f32", 80, "GFLOP/s", 100),
      result("prefill.1131", 50, "GFLOP/s", 100),
      result("decode.b1.bf16", 9, "tokens/s", 10),
      result("decode.b8.bf16", 30, "tokens/s", 80),
      result("rss.peak.bf16", 130, "bytes", 100),
      result("decode.b1.int8", null, "tokens/s", 20, { note: "n/a" }),
    ];
    applyTargets(rs);
    assert.deepEqual(
      rs.map((r) => r.pass),
      [true, false, true, true, false, null],
    );
    assert.equal(rs[0].percent_of_limit, 80);
    assert.equal(rs[5].percent_of_limit, null);
  });

  test("decode.b8 notes its ratio to b1 and the bandwidth bound of the two byte counts", () => {
    const rs = [
      result("decode.b1.bf16", 30, "tokens/s", 25, { bytes: 1.2e9 }),
      result("decode.b8.bf16", 84, "tokens/s", 70, { bytes: 3.2e9, note: "8 sequences" }),
    ];
    applyTargets(rs);
    assert.equal(rs[1].pass, false);
    assert.equal(rs[1].note, "8 sequences; 2.80x decode.b1; at the bandwidth limit 8 x 1.20GB / 3.20GB = 3.00x");
  });

  test("JSON schema", () => {
    const dir = mkdtempSync(join(tmpdir(), "dsocr-bench-"));
    try {
      const machine = {
        cpu: "x",
        flags: ["avx2"],
        isa: "avx2",
        threads: 2,
        read_gbps: 10,
        fma_gflops: { "f32-avx2": 50 },
      };
      const path = join(dir, "b.json");
      writeJson(path, machine, [result("gemm.1x2x3.f32", 25, "GFLOP/s", 50)]);
      const doc = JSON.parse(readFileSync(path, "utf8"));
      assert.deepEqual(doc, JSON.parse(JSON.stringify(buildReport(machine, doc.results))));
      assert.deepEqual(Object.keys(doc.machine).sort(), ["cpu", "flags", "fma_gflops", "isa", "read_gbps", "threads"]);
      for (const k of ["name", "value", "unit", "limit", "percent_of_limit"]) assert.ok(k in doc.results[0], k);
      assert.equal(doc.results[0].percent_of_limit, 50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("npm run bench -- --quick --only gemm on the tiny config writes the schema (limits of a forced ISA)", () => {
    const dir = mkdtempSync(join(tmpdir(), "dsocr-bench-"));
    try {
      const json = join(dir, "b.json");
      const root = join(import.meta.dirname, "..", "..");
      const only = `gemm.${modelGemmShapes(tiny, 1131)[0].m}x`;
      const forced = supportedIsaLevels().includes("avx2") ? "avx2" : defaultIsa();
      const r = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "bench/run.ts",
          "--quick",
          "--no-peer",
          "--only",
          only,
          "--config",
          join(PRESETS, "tiny-v2.json"),
          "--json",
          json,
        ],
        // DSOCR_ISA forces the AVX2 kernels where the CPU has more: every limit is then the
        // AVX2 FMA peak (bf16 runs as widened f32 FMAs there).
        { cwd: root, encoding: "utf8", env: { ...process.env, DSOCR_ISA: forced } },
      );
      assert.equal(r.status, 0, r.stderr);
      const doc = JSON.parse(readFileSync(json, "utf8"));
      assert.equal(doc.machine.isa, forced);
      if (forced === "avx2") {
        assert.ok(doc.results.some((e: { name: string }) => e.name.endsWith(".bf16")));
        for (const e of doc.results) assert.equal(e.limit, doc.machine.fma_gflops["f32-avx2"], e.name);
      }
      assert.equal(typeof doc.machine.cpu, "string");
      assert.ok(doc.machine.read_gbps > 0);
      assert.ok(Object.values(doc.machine.fma_gflops).every((v) => (v as number) > 0));
      assert.ok(doc.results.length >= 2);
      for (const e of doc.results) {
        assert.match(e.name, /^gemm\.\d+x\d+x\d+\.(f32|bf16|int8)$/);
        assert.equal(e.unit, "GFLOP/s");
        assert.ok(e.value > 0 && e.limit > 0);
        assert.ok(Math.abs(e.percent_of_limit - (100 * e.value) / e.limit) < 1e-9);
      }
      assert.match(r.stdout, /gemm\./);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
