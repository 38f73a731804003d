/**
 * DeepSeek-OCR 2 vision encoder against the fixtures (../shared/fixtures/README.md): for each v2 case,
 * every view is encoded once by `VisionV2.encodeImage` (with a MemoryDump) and every stored vision
 * tensor is compared under the case's tolerances: SAM internals of the global view, SAM / Qwen2 /
 * projector outputs of the global view and the tiles, and `vision.merged` (the merged rows).
 *
 * Kernels: `getKernels()` of src/kernels/index.ts when it exists, else the reference kernels. With the
 * reference kernels (slow: SAM global attention over 4096 tokens) only {@link REFERENCE_CASES} run,
 * unless DSOCR_VISION_ALL=1; any other kernel set runs every v2 case.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import type { Checkpoint } from "../../src/checkpoint/types.ts";
import { loadConfig } from "../../src/config/config.ts";
import type { ModelConfig } from "../../src/config/types.ts";
import { MemoryDump } from "../../src/model/dump.ts";
import { VisionV2, v2ImageTokenCount } from "../../src/model/vision-v2.ts";
import {
  type CloseReport,
  compareWithFixture,
  FixtureCase,
  type LoadedView,
  listCases,
  readCaseJson,
  testKernels,
} from "../helpers/fixture-case.ts";

/** Cases run with the reference kernels: the 2x3 and 2x1 tile grids (both view sizes, tile order, merge order). */
const REFERENCE_CASES = ["v2_page_tiles", "v2_wide_tiles"];

/** Vision tensors compared (when the case has them); `block*` expands to every SAM block the case stores. */
const VISION_TENSORS = [
  "sam.global.patch_embed.out",
  "sam.global.block*.out",
  "sam.global.neck.out",
  "sam.global.net_2.out",
  "sam.global.out",
  "sam.tile0.out",
  "sam.tiles.out",
  "qwen.global.out",
  "qwen.tile0.out",
  "qwen.tiles.out",
  "proj.global.out",
  "proj.tile0.out",
  "proj.tiles.out",
  "vision.merged",
];

const kernels = await testKernels();
const all = listCases("v2_");
const cases =
  kernels.name === "reference" && process.env.DSOCR_VISION_ALL !== "1"
    ? all.filter((c) => REFERENCE_CASES.includes(c))
    : all;

/** Worst error per case and tensor, printed at the end. */
const report: string[] = [];

let ckpt: Checkpoint | undefined;
let loaded: { cfg: ModelConfig; vision: VisionV2 } | undefined;

/** The model, loaded once (every v2 case uses tiny-v2). */
function model(modelDir: string): { cfg: ModelConfig; vision: VisionV2 } {
  if (!loaded) {
    ckpt = openCheckpoint(modelDir);
    const cfg = loadConfig(modelDir);
    loaded = { cfg, vision: VisionV2.load({ ckpt, k: kernels }, cfg) };
  }
  return loaded;
}

after(() => {
  ckpt?.close();
  console.log(`vision-v2 fixtures (kernels: ${kernels.name})\n${report.join("\n")}`);
});

for (const name of cases) {
  const json = readCaseJson(name);
  const blocks = Object.keys(json.tensors)
    .filter((n) => /^sam\.global\.block\d+\.out$/.test(n))
    .sort((a, b) => Number(a.match(/\d+/)?.[0]) - Number(b.match(/\d+/)?.[0]));
  const names = VISION_TENSORS.flatMap((n) => (n === "sam.global.block*.out" ? blocks : [n])).filter((n) =>
    Object.hasOwn(json.tensors, n),
  );

  describe(name, () => {
    let fc: FixtureCase;
    let views: { global: LoadedView; tiles: LoadedView[] };
    let dump: MemoryDump;
    let merged: Float32Array;
    let seconds = 0;

    before(async () => {
      fc = FixtureCase.load(name);
      views = await fc.loadViews();
      const v = model(fc.modelDir).vision;
      dump = new MemoryDump();
      const t0 = performance.now();
      merged = v.encodeImage(
        {
          global: views.global.pixels,
          globalSize: views.global.size,
          tiles: views.tiles.map((t) => t.pixels),
          tileSize: views.tiles[0]?.size ?? 768,
        },
        dump,
      );
      seconds = (performance.now() - t0) / 1000;
      report.push(`${name}: encodeImage ${seconds.toFixed(1)} s (${views.tiles.length} tiles)`);
    });

    after(() => fc?.close());

    it("views decode to the fixture's normalised bf16 tensors", () => {
      for (const v of [views.global, ...views.tiles]) {
        assert.equal(v.f32Sha256, v.meta.normalized_f32_sha256, `${v.meta.file} f32`);
        assert.equal(v.bf16Sha256, v.meta.normalized_bf16_as_f32_sha256, `${v.meta.file} bf16`);
      }
    });

    it("yields the case's number of image rows, separator last", () => {
      const { cfg, vision: v } = model(fc.modelDir);
      const n = v2ImageTokenCount(cfg, views.global.size, views.tiles[0]?.size ?? 768, views.tiles.length);
      assert.equal(n, json.images_seq_mask_true_count);
      assert.equal(merged.length, n * v.nEmbed);
      assert.deepEqual(merged.subarray((n - 1) * v.nEmbed), v.viewSeparator);
      // Merge order: tiles..., global, separator.
      const g = dump.tensors.get("proj.global.out");
      assert.ok(g);
      const gOff = (n - 1) * v.nEmbed - g.data.length;
      assert.deepEqual(merged.subarray(gOff, gOff + g.data.length), g.data);
      const t = dump.tensors.get("proj.tiles.out");
      if (views.tiles.length > 0) {
        assert.ok(t);
        assert.deepEqual(merged.subarray(0, t.data.length), t.data);
      } else {
        assert.equal(t, undefined);
      }
    });

    for (const tensor of names) {
      it(tensor, () => {
        const actual = tensor === "vision.merged" ? merged : dump.tensors.get(tensor)?.data;
        assert.ok(actual instanceof Float32Array, `${name}: ${tensor} was not produced`);
        const shape = tensor === "vision.merged" ? undefined : dump.tensors.get(tensor)?.shape;
        const r: CloseReport = compareWithFixture(fc, tensor, actual, shape);
        report.push(
          `  ${name} ${tensor}: max |err| ${r.maxAbs.toExponential(2)}, worst ${(100 * r.worstRatio).toFixed(1)}% of tol (${r.count} values)`,
        );
      });
    }
  });
}
