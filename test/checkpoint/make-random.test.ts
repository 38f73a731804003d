import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { DTYPE_SIZE, numel } from "../../src/checkpoint/dtype.ts";
import {
  generateTensor,
  initStats,
  makeRandomCheckpoint,
  presetConfig,
  presetConfigPath,
} from "../../src/checkpoint/make-random.ts";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import { checkpointTensors } from "../../src/checkpoint/tensor-names.ts";
import { loadConfig, parseConfig } from "../../src/config/config.ts";
import { FIXTURES, tempDir as newTempDir, REPO, SHARED } from "../helpers/paths.ts";

/** Generated checkpoints are ~17 MB each: remove them when the file's tests end. */
const made: string[] = [];
function tempDir(): string {
  const d = newTempDir("dsocr-random-");
  made.push(d);
  return d;
}
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const TINY_V2 = join(FIXTURES, "models", "tiny-v2");
const TINY_V1 = join(FIXTURES, "models", "tiny-v1");

function shapesOf(dir: string): Map<string, string> {
  const c = openCheckpoint(dir);
  const m = new Map(c.names().map((n) => [n, `${c.info(n).dtype} [${c.info(n).shape.join(",")}]`]));
  c.close();
  return m;
}

function sorted(m: Map<string, string>): [string, string][] {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

describe("tensor name/shape list (tensor-names.md)", () => {
  for (const [label, dir] of [
    ["tiny-v2", TINY_V2],
    ["tiny-v1", TINY_V1],
  ] as const) {
    test(`derived from the config = the fixture ${label} checkpoint (same set, same shapes)`, () => {
      const cfg = loadConfig(dir);
      const mine = new Map(checkpointTensors(cfg).map((t) => [t.name, `${t.dtype} [${t.shape.join(",")}]`]));
      assert.equal(mine.size, checkpointTensors(cfg).length, "no duplicate names");
      assert.deepEqual(sorted(mine), sorted(shapesOf(dir)));
    });
  }

  test("full-v2: 2707 tensors, 3 389 119 360 parameters, 6 778 238 720 bytes at bf16 (spec 2.1)", () => {
    const t = checkpointTensors(presetConfig("full-v2"));
    assert.equal(t.length, 2707);
    const params = t.reduce((a, x) => a + numel(x.shape), 0);
    assert.equal(params, 3_389_119_360);
    assert.equal(
      t.reduce((a, x) => a + numel(x.shape) * DTYPE_SIZE[x.dtype], 0),
      6_778_238_720,
    );
    const get = (n: string) => t.find((x) => x.name === n)?.shape;
    assert.deepEqual(get("model.sam_model.net_3.weight"), [896, 512, 3, 3]);
    assert.deepEqual(get("model.sam_model.blocks.2.attn.rel_pos_h"), [127, 64]);
    assert.deepEqual(get("model.sam_model.blocks.3.attn.rel_pos_w"), [27, 64]);
    assert.deepEqual(get("model.qwen2_model.model.model.layers.23.self_attn.k_proj.weight"), [128, 896]);
    assert.deepEqual(get("model.qwen2_model.query_768.weight"), [144, 896]);
    assert.deepEqual(get("model.projector.layers.weight"), [1280, 896]);
    assert.deepEqual(get("model.layers.11.mlp.experts.63.down_proj.weight"), [1280, 896]);
    assert.deepEqual(get("model.layers.1.mlp.shared_experts.gate_proj.weight"), [1792, 1280]);
    assert.deepEqual(get("model.layers.0.mlp.gate_proj.weight"), [6848, 1280]);
    assert.equal(get("model.image_newline"), undefined);
    assert.equal(get("model.layers.0.mlp.gate.weight"), undefined);
  });

  test("real v1 config: 2710 tensors, 3 336 106 240 parameters = index total_size 6 672 212 480 bytes", () => {
    const raw = JSON.parse(readFileSync(presetConfigPath("full-v2"), "utf8"));
    raw.architectures = ["DeepseekOCRForCausalLM"];
    raw.vision_config.model_name = "deeplip_b_l";
    raw.projector_config.input_dim = 2048;
    const t = checkpointTensors(parseConfig(raw, "v1-config.json"));
    assert.equal(t.length, 2710);
    const params = t.reduce((a, x) => a + numel(x.shape), 0);
    assert.equal(params, 3_336_106_240);
    assert.equal(params * 2, 6_672_212_480);
  });
});

describe("makeRandomCheckpoint", () => {
  test("tiny-v2: same tensors as the fixture, BF16, config and tokenizer files", async () => {
    const out = tempDir();
    const progress: number[] = [];
    const r = await makeRandomCheckpoint({ preset: "tiny-v2", out, seed: 1, onProgress: (d) => progress.push(d) });
    assert.equal(r.dir, out);
    assert.equal(r.config.version, "v2");
    assert.equal(r.tensorCount, 225);
    assert.ok(r.files.includes("model.safetensors"));
    assert.ok(!existsSync(join(out, "model.safetensors.index.json")));
    assert.equal(progress.at(-1), r.totalBytes);
    assert.deepEqual(sorted(shapesOf(out)), sorted(shapesOf(TINY_V2)));
    // the same file layout as the fixture (reference tensor order, same header length)
    const a = readFileSync(join(out, "model.safetensors"));
    const b = readFileSync(join(TINY_V2, "model.safetensors"));
    assert.equal(a.length, b.length);
    // config.json is the fixture's, byte for byte
    assert.ok(readFileSync(join(out, "config.json")).equals(readFileSync(join(TINY_V2, "config.json"))));
    for (const f of ["tokenizer_config.json", "special_tokens_map.json"]) {
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(SHARED, "tokenizer", f))), f);
      assert.ok(
        readFileSync(join(REPO, "assets", "tokenizer", f)).equals(readFileSync(join(SHARED, "tokenizer", f))),
        f,
      );
    }
    assert.ok(
      readFileSync(join(out, "processor_config.json")).equals(readFileSync(join(TINY_V2, "processor_config.json"))),
    );
    if (r.tokenizerJson) {
      assert.ok(
        readFileSync(join(out, "tokenizer.json")).equals(readFileSync(join(SHARED, "tokenizer", "tokenizer.json"))),
        "tokenizer.json is the official file",
      );
    } else {
      assert.ok(r.notes.some((n) => n.includes("tokenizer.json")));
    }
  });

  test("values follow the recipe and are finite", async () => {
    const out = tempDir();
    await makeRandomCheckpoint({ preset: "tiny-v2", out, tokenizer: false });
    const c = openCheckpoint(out);
    const stats = (n: string) => {
      const x = c.readF32(n);
      let s = 0;
      let s2 = 0;
      for (const v of x) {
        assert.ok(Number.isFinite(v));
        s += v;
        s2 += v * v;
      }
      const mean = s / x.length;
      return { mean, std: Math.sqrt(s2 / x.length - mean * mean) };
    };
    const near = (n: string, mean: number, std: number) => {
      const st = stats(n);
      assert.ok(Math.abs(st.mean - mean) < 0.05 + std * 0.2, `${n} mean ${st.mean} vs ${mean}`);
      assert.ok(Math.abs(st.std - std) < std * 0.15, `${n} std ${st.std} vs ${std}`);
    };
    near("model.norm.weight", 1, 0.1);
    near("model.layers.1.mlp.gate.weight", 0, 3 / Math.sqrt(32));
    near("lm_head.weight", 0, 1);
    near("model.embed_tokens.weight", 0, 1);
    near("model.sam_model.pos_embed", 0, 0.2);
    near("model.layers.0.mlp.down_proj.weight", 0, 1 / Math.sqrt(96));
    near("model.sam_model.patch_embed.proj.weight", 0, 1 / Math.sqrt(3 * 16 * 16));
    near("model.sam_model.blocks.0.mlp.lin1.bias", 0, 0.02);
    near("model.sam_model.neck.1.weight", 1, 0.1);
    near("model.qwen2_model.query_1024.weight", 0, 1);
    c.close();
    const cfg = presetConfig("tiny-v2");
    assert.deepEqual(initStats("model.sam_model.neck.3.bias", [16], cfg), { mean: 0, std: 0.05 });
    assert.deepEqual(initStats("model.vision_model.pre_layrnorm.weight", [64], cfg), { mean: 1, std: 0.1 });
    assert.deepEqual(initStats("model.vision_model.embeddings.position_embedding.weight", [257, 64], cfg), {
      mean: 0,
      std: 0.2,
    });
    assert.deepEqual(initStats("model.view_seperator", [32], cfg), { mean: 0, std: 1 });
  });

  test("deterministic: same seed -> same bytes, other seed -> other values", async () => {
    const a = tempDir();
    const b = tempDir();
    const c = tempDir();
    await makeRandomCheckpoint({ preset: "tiny-v2", out: a, seed: 7, tokenizer: false });
    await makeRandomCheckpoint({ preset: "tiny-v2", out: b, seed: 7, tokenizer: false });
    await makeRandomCheckpoint({ preset: "tiny-v2", out: c, seed: 8, tokenizer: false });
    const fa = readFileSync(join(a, "model.safetensors"));
    assert.ok(fa.equals(readFileSync(join(b, "model.safetensors"))));
    const fc = readFileSync(join(c, "model.safetensors"));
    assert.equal(fa.length, fc.length);
    assert.ok(!fa.equals(fc));
  });

  test("chunking does not change values (a tensor larger than one chunk)", () => {
    const cfg = presetConfig("tiny-v2");
    const spec = { name: "lm_head.weight", dtype: "BF16" as const, shape: [129280, 32] };
    const chunks: Uint16Array[] = [];
    generateTensor(spec, cfg, 3, (ch) => chunks.push(ch.slice()));
    assert.ok(chunks.length > 1);
    assert.equal(
      chunks.reduce((a, ch) => a + ch.length, 0),
      129280 * 32,
    );
    const small = { name: "lm_head.weight", dtype: "BF16" as const, shape: [10, 32] };
    const first: Uint16Array[] = [];
    generateTensor(small, cfg, 3, (ch) => first.push(ch.slice()));
    assert.deepEqual([...first[0]], [...chunks[0].subarray(0, 320)]);
  });

  test("forced sharding gives the same tensors as the single file; stale files are replaced", async () => {
    const out = tempDir();
    await makeRandomCheckpoint({ preset: "tiny-v2", out, seed: 5, tokenizer: false });
    const single = openCheckpoint(out);
    const names = single.names();
    const want = new Map(names.map((n) => [n, single.readBytes(n)]));
    single.close();
    const r = await makeRandomCheckpoint({
      preset: "tiny-v2",
      out,
      seed: 5,
      tokenizer: false,
      maxShardBytes: 5_000_000,
    });
    assert.ok(!existsSync(join(out, "model.safetensors")), "stale single file removed");
    assert.ok(r.files.includes("model.safetensors.index.json"));
    assert.ok(r.files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length >= 3);
    const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"));
    assert.equal(index.metadata.total_size, r.totalBytes);
    const sharded = openCheckpoint(out);
    assert.deepEqual(new Set(sharded.names()), new Set(names));
    for (const n of names) assert.ok(sharded.readBytes(n).equals(want.get(n)!), n);
    sharded.close();
    await makeRandomCheckpoint({ preset: "tiny-v2", out, seed: 5, tokenizer: false, forceSharded: true });
    assert.ok(existsSync(join(out, "model-00001-of-00001.safetensors")));
    assert.ok(!existsSync(join(out, "model-00001-of-00004.safetensors")), "stale shards removed");
  });

  test("config option: a v1 config writes the v1 tensor set", async () => {
    const out = tempDir();
    const r = await makeRandomCheckpoint({ config: TINY_V1, out, tokenizer: false });
    assert.equal(r.config.version, "v1");
    assert.deepEqual(sorted(shapesOf(out)), sorted(shapesOf(TINY_V1)));
    assert.ok(readFileSync(join(out, "config.json")).equals(readFileSync(join(TINY_V1, "config.json"))));
  });

  test("invalid config and unknown preset are rejected before anything is written", async () => {
    const dir = tempDir();
    const bad = join(dir, "config.json");
    writeFileSync(bad, JSON.stringify({ architectures: ["DeepseekOCR2ForCausalLM"], use_mla: true }));
    const out = join(dir, "out");
    await assert.rejects(makeRandomCheckpoint({ config: bad, out }), /use_mla/);
    assert.ok(!existsSync(out));
    await assert.rejects(makeRandomCheckpoint({ preset: "huge" as never, out }), /unknown preset/);
    await assert.rejects(makeRandomCheckpoint({ config: join(dir, "missing.json"), out }), /cannot read/);
  });

  test("full-v2 preset = the real config.json (no extension keys)", () => {
    const raw = JSON.parse(readFileSync(presetConfigPath("full-v2"), "utf8"));
    assert.equal(
      Object.keys(raw.vision_config).some((k) => /^(sam|qwen2|clip)_/.test(k)),
      false,
    );
    const cfg = presetConfig("full-v2");
    assert.equal(cfg.version, "v2");
    assert.deepEqual(cfg.sam.downsampleChannels, [512, 896]);
    assert.equal(cfg.language.hiddenSize, 1280);
  });
});
