import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { bf16ToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "../../src/checkpoint/dtype.ts";
import { CheckpointError, type CheckpointErrorCode } from "../../src/checkpoint/errors.ts";
import { openCheckpoint, readSafetensorsHeader } from "../../src/checkpoint/safetensors.ts";
import type { DType } from "../../src/checkpoint/types.ts";
import { type TensorEntry, writeSafetensors, writeShardedSafetensors } from "../../src/checkpoint/writer.ts";
import { FIXTURES, tempDir } from "../helpers/paths.ts";

/** Builds safetensors bytes by hand (no validation), so tests can corrupt any part. */
function rawFile(header: unknown, data: Uint8Array, opts: { headerLen?: bigint } = {}): Buffer {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(opts.headerLen ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

function expectCode(fn: () => unknown, code: CheckpointErrorCode, ...inMessage: string[]): CheckpointError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CheckpointError, `expected CheckpointError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(!caught.message.includes("\n"), "message is one line");
  for (const s of inMessage) assert.ok(caught.message.includes(s), `"${caught.message}" should contain "${s}"`);
  return caught;
}

const F32_HEADER = { a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } };
const F32_DATA = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);

describe("safetensors reader: corrupt files", () => {
  const dir = tempDir();
  const write = (name: string, bytes: Uint8Array): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  test("a valid hand-built file reads back", () => {
    const p = write("ok.safetensors", rawFile(F32_HEADER, F32_DATA));
    const c = openCheckpoint(p);
    assert.deepEqual([...c.readF32("a", [2, 2])], [1, 2, 3, 4]);
    c.close();
  });

  test("file shorter than 8 bytes -> truncated", () => {
    const p = write("short.safetensors", new Uint8Array([1, 2, 3]));
    expectCode(() => openCheckpoint(p), "truncated", p, "3 bytes");
    expectCode(() => readSafetensorsHeader(write("empty.safetensors", new Uint8Array(0))), "truncated");
  });

  test("header length larger than the file -> header-too-long", () => {
    const p = write("hl.safetensors", rawFile(F32_HEADER, F32_DATA, { headerLen: 1_000_000n }));
    expectCode(() => openCheckpoint(p), "header-too-long", p, "1000000");
    const huge = write("hl2.safetensors", rawFile(F32_HEADER, F32_DATA, { headerLen: 0xffffffffffffffffn }));
    expectCode(() => openCheckpoint(huge), "header-too-long", huge);
  });

  test("bad header JSON -> bad-header", () => {
    const p = write("json.safetensors", rawFile('{"a": {"dtype": "F32",', new Uint8Array(0)));
    expectCode(() => openCheckpoint(p), "bad-header", p, "not valid JSON");
    const arr = write("arr.safetensors", rawFile("[1,2]", new Uint8Array(0)));
    expectCode(() => openCheckpoint(arr), "bad-header", "not a JSON object");
  });

  test("malformed entries -> bad-header naming the tensor", () => {
    const cases: [unknown, string][] = [
      [{ t: { dtype: "F32", shape: [4], data_offsets: [8, 0] } }, "begin 8 > end 0"],
      [{ t: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, "data length 16"],
      [{ t: { dtype: "F32", shape: [-1], data_offsets: [0, 16] } }, "shape"],
      [{ t: { dtype: "F32", shape: [4], data_offsets: [0] } }, "data_offsets"],
      [{ t: { shape: [4], data_offsets: [0, 16] } }, "missing dtype"],
      [{ t: 5 }, "not a JSON object"],
      [{ __metadata__: [1], t: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, "__metadata__"],
    ];
    cases.forEach(([h, msg], i) => {
      const p = write(`bad${i}.safetensors`, rawFile(h, F32_DATA));
      const e = expectCode(() => openCheckpoint(p), "bad-header", p, msg);
      if (!msg.includes("__metadata__")) assert.equal(e.tensor, "t");
    });
  });

  test("unsupported dtype -> dtype", () => {
    const p = write("f64.safetensors", rawFile({ t: { dtype: "F64", shape: [2], data_offsets: [0, 16] } }, F32_DATA));
    expectCode(() => openCheckpoint(p), "dtype", p, '"t"', "F64");
  });

  test("data past the end of the file -> truncated naming the tensor", () => {
    const full = rawFile(F32_HEADER, F32_DATA);
    const p = write("trunc.safetensors", full.subarray(0, full.length - 4));
    const e = expectCode(() => openCheckpoint(p), "truncated", p, '"a"', "past the end");
    assert.equal(e.tensor, "a");
  });

  test("file truncated after open -> truncated on read", () => {
    const p = write("later.safetensors", rawFile(F32_HEADER, F32_DATA));
    const c = openCheckpoint(p);
    writeFileSync(p, rawFile(F32_HEADER, F32_DATA).subarray(0, 20));
    expectCode(() => c.readF32("a"), "truncated", '"a"');
    c.close();
  });

  test("missing tensor, wrong shape, wrong dtype asked", () => {
    const h = {
      a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
      i: { dtype: "I32", shape: [4], data_offsets: [16, 32] },
    };
    const p = write("mixed.safetensors", rawFile(h, new Uint8Array(32)));
    const c = openCheckpoint(p);
    const e = expectCode(() => c.readF32("nope"), "missing-tensor", p, '"nope"');
    assert.equal(e.tensor, "nope");
    expectCode(() => c.info("nope"), "missing-tensor");
    expectCode(() => c.readBytes("nope"), "missing-tensor");
    expectCode(() => c.readWeight("nope"), "missing-tensor");
    expectCode(() => c.readF32("a", [4]), "shape", '"a"', "[2, 2]", "expected [4]");
    expectCode(() => c.readWeight("a", [1, 4]), "shape", '"a"');
    expectCode(() => c.readF32("i"), "dtype", '"i"', "I32");
    expectCode(() => c.readWeight("i"), "dtype", '"i"');
    // raw bytes of any dtype are fine
    assert.equal(c.readBytes("i").length, 16);
    c.close();
    assert.throws(() => c.readF32("a"), /closed/);
  });

  test("not-found: missing path, empty directory, ambiguous directory", () => {
    expectCode(() => openCheckpoint(join(dir, "does-not-exist")), "not-found");
    const empty = tempDir();
    expectCode(() => openCheckpoint(empty), "not-found", empty);
    const two = tempDir();
    writeFileSync(join(two, "x.safetensors"), rawFile(F32_HEADER, F32_DATA));
    writeFileSync(join(two, "y.safetensors"), rawFile(F32_HEADER, F32_DATA));
    expectCode(() => openCheckpoint(two), "not-found", "ambiguous");
    rmSync(join(two, "y.safetensors"));
    const c = openCheckpoint(two); // exactly one *.safetensors
    assert.deepEqual(c.names(), ["a"]);
    c.close();
  });

  test("sharded index: missing shard, tensor not in shard, bad JSON, no weight_map", () => {
    const d = tempDir();
    writeFileSync(join(d, "model-00001-of-00002.safetensors"), rawFile(F32_HEADER, F32_DATA));
    const index = join(d, "model.safetensors.index.json");
    writeFileSync(
      index,
      JSON.stringify({
        metadata: { total_size: 32 },
        weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
      }),
    );
    expectCode(() => openCheckpoint(d), "not-found", index, "model-00002-of-00002.safetensors");
    writeFileSync(
      index,
      JSON.stringify({ weight_map: { a: "model-00001-of-00002.safetensors", zz: "model-00001-of-00002.safetensors" } }),
    );
    expectCode(() => openCheckpoint(d), "bad-index", '"zz"');
    writeFileSync(index, "{not json");
    expectCode(() => openCheckpoint(d), "bad-index", "not valid JSON");
    writeFileSync(index, JSON.stringify({ metadata: {} }));
    expectCode(() => openCheckpoint(d), "bad-index", "weight_map");
    writeFileSync(index, JSON.stringify({ weight_map: { a: "../escape.safetensors" } }));
    expectCode(() => openCheckpoint(d), "bad-index");
    // a corrupt shard reports the shard's own error
    writeFileSync(index, JSON.stringify({ weight_map: { a: "model-00001-of-00002.safetensors" } }));
    writeFileSync(join(d, "model-00001-of-00002.safetensors"), new Uint8Array(4));
    expectCode(() => openCheckpoint(d), "truncated", "model-00001-of-00002.safetensors");
  });
});

/** Test data per dtype: typed array and the f32 values readF32 must return (null: not a float dtype). */
function sample(dtype: DType, n: number): { data: ArrayBufferView; f32: number[] | null } {
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.37 + (i % 3) * 1e-3);
  switch (dtype) {
    case "F32": {
      const a = new Float32Array(vals);
      return { data: a, f32: [...a] };
    }
    case "BF16": {
      const a = new Uint16Array(vals.map(f32ToBf16Bits));
      return { data: a, f32: [...bf16ToF32(a)] };
    }
    case "F16": {
      const a = new Uint16Array(vals.map(f32ToF16Bits));
      return { data: a, f32: [...a].map(f16BitsToF32) };
    }
    case "I64":
      return { data: new BigInt64Array(vals.map((v) => BigInt(Math.round(v * 1e6)))), f32: null };
    case "I32":
      return { data: new Int32Array(vals.map((v) => Math.round(v * 1000))), f32: null };
    case "U8":
      return { data: new Uint8Array(vals.map((_, i) => (i * 37) & 255)), f32: null };
    case "I8":
      return { data: new Int8Array(vals.map((_, i) => ((i * 37) & 255) - 128)), f32: null };
  }
}

const ALL: DType[] = ["BF16", "F16", "F32", "I64", "I32", "U8", "I8"];

describe("safetensors round trip (writer -> reader)", () => {
  test("every dtype, odd shapes, metadata; readBytes/readF32/readWeight/readTyped", () => {
    const dir = tempDir();
    const file = join(dir, "all.safetensors");
    const shapes: number[][] = [[3, 5], [7], [2, 3, 1, 3], [], [0, 4]];
    const entries: (TensorEntry & { f32: number[] | null })[] = [];
    ALL.forEach((dtype, k) => {
      shapes.forEach((shape, j) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const s = sample(dtype, n);
        entries.push({ name: `t.${dtype}.${j}.${k}`, dtype, shape, data: s.data, f32: s.f32 });
      });
    });
    writeSafetensors(
      file,
      entries.map(({ f32: _, ...e }) => e),
      { format: "pt", note: "hello" },
    );
    const h = readSafetensorsHeader(file);
    assert.equal(h.headerLength % 8, 0);
    assert.deepEqual(h.metadata, { format: "pt", note: "hello" });
    const c = openCheckpoint(file);
    assert.equal(c.names().length, entries.length);
    assert.deepEqual(c.metadata(), { format: "pt", note: "hello" });
    for (const e of entries) {
      const info = c.info(e.name);
      assert.equal(info.dtype, e.dtype);
      assert.deepEqual(info.shape, e.shape);
      assert.equal(info.file, file);
      const raw = c.readBytes(e.name);
      assert.equal(raw.byteOffset, 0);
      assert.deepEqual(
        new Uint8Array(raw),
        new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength),
        `${e.name} bytes`,
      );
      const typed = c.readTyped(e.name, e.shape);
      assert.equal(typed.constructor, e.data.constructor, `${e.name} typed array kind`);
      if (e.f32) {
        assert.deepEqual([...c.readF32(e.name, e.shape)], e.f32, `${e.name} f32`);
        const w = c.readWeight(e.name);
        const rows = e.shape.length ? e.shape[0] : 1;
        assert.equal(w.rows, rows);
        assert.equal(
          w.cols,
          e.shape.slice(1).reduce((a, b) => a * b, 1),
        );
        if (e.dtype === "BF16") {
          assert.equal(w.dtype, "bf16");
          assert.ok(w.data instanceof Uint16Array);
          assert.deepEqual([...w.data], [...(e.data as Uint16Array)]);
        } else {
          assert.equal(w.dtype, "f32");
          assert.deepEqual([...w.data], e.f32);
        }
      } else {
        expectCode(() => c.readF32(e.name), "dtype");
      }
    }
    c.close();
  });

  test("readWeight accepts the stored shape or its flattened 2-D view", () => {
    const dir = tempDir();
    const file = join(dir, "conv.safetensors");
    const s = sample("BF16", 4 * 3 * 2 * 2);
    writeSafetensors(file, [{ name: "conv", dtype: "BF16", shape: [4, 3, 2, 2], data: s.data }]);
    const c = openCheckpoint(dir);
    const a = c.readWeight("conv", [4, 3, 2, 2]);
    const b = c.readWeight("conv", [4, 12]);
    assert.equal(a.rows, 4);
    assert.equal(a.cols, 12);
    assert.deepEqual([...b.data], [...a.data]);
    expectCode(() => c.readWeight("conv", [12, 4]), "shape");
    c.close();
  });

  test("readWeight into a buffer: a view of it for BF16 and F32, a fresh widened array for F16", () => {
    const dir = tempDir();
    const file = join(dir, "w.safetensors");
    const b = sample("BF16", 6);
    const f = sample("F32", 6);
    const h = sample("F16", 6);
    writeSafetensors(file, [
      { name: "b", dtype: "BF16", shape: [2, 3], data: b.data },
      { name: "f", dtype: "F32", shape: [3, 2], data: f.data },
      { name: "h", dtype: "F16", shape: [2, 3], data: h.data },
    ]);
    const c = openCheckpoint(dir);
    const buf = new Uint8Array(64);
    const wb = c.readWeight("b", [2, 3], buf);
    assert.equal(wb.data.buffer, buf.buffer);
    assert.deepEqual([...wb.data], [...(b.data as Uint16Array)]);
    const wf = c.readWeight("f", [3, 2], buf.subarray(8));
    assert.equal(wf.data.buffer, buf.buffer);
    assert.equal(wf.data.byteOffset, 8);
    assert.deepEqual([...wf.data], f.f32);
    const wh = c.readWeight("h", [2, 3], buf);
    assert.notEqual(wh.data.buffer, buf.buffer);
    assert.deepEqual([...wh.data], h.f32);
    assert.throws(() => c.readWeight("f", undefined, buf.subarray(0, 23)), /tensor "f" needs 24 bytes/);
    assert.throws(() => c.readWeight("b", undefined, buf.subarray(2)), /4-byte aligned/);
    c.close();
  });

  test("sharded round trip", () => {
    const dir = tempDir();
    const specs = Array.from({ length: 10 }, (_, i) => ({
      name: `layer.${i}.weight`,
      dtype: (i % 2 ? "BF16" : "F32") as DType,
      shape: [i + 1, 8],
    }));
    const data = new Map(specs.map((s) => [s.name, sample(s.dtype, s.shape[0] * 8)]));
    const r = writeShardedSafetensors(dir, specs, (s) => data.get(s.name)!.data, {
      maxShardBytes: 200,
      metadata: { format: "pt" },
    });
    assert.ok(r.shards.length >= 3, `${r.shards.length} shards`);
    for (const [i, f] of r.shards.entries()) {
      const n = String(r.shards.length).padStart(5, "0");
      assert.ok(f.endsWith(`model-${String(i + 1).padStart(5, "0")}-of-${n}.safetensors`));
    }
    const index = JSON.parse(readFileSync(r.indexFile, "utf8"));
    const total = specs.reduce((a, s) => a + s.shape[0] * 8 * (s.dtype === "F32" ? 4 : 2), 0);
    assert.equal(index.metadata.total_size, total);
    assert.equal(r.totalSize, total);
    assert.deepEqual(Object.keys(index.weight_map), specs.map((s) => s.name).sort());
    const c = openCheckpoint(dir);
    assert.deepEqual(new Set(c.names()), new Set(specs.map((s) => s.name)));
    assert.equal(c.files().length, r.shards.length);
    assert.deepEqual(c.metadata(), { total_size: String(total) });
    for (const s of specs) {
      assert.deepEqual([...c.readF32(s.name, s.shape)], data.get(s.name)!.f32);
      assert.equal(c.info(s.name).file, join(dir, index.weight_map[s.name]));
    }
    c.close();
    // opening the index file directly works too
    const c2 = openCheckpoint(r.indexFile);
    assert.equal(c2.names().length, specs.length);
    c2.close();
  });
});

describe("fixture checkpoints", () => {
  for (const m of ["tiny-v2", "tiny-v1"]) {
    test(`${m}: header, names, bf16 weights`, () => {
      const dir = join(FIXTURES, "models", m);
      const c = openCheckpoint(dir);
      assert.equal(c.dir, dir);
      const names = c.names();
      assert.equal(names.length, m === "tiny-v2" ? 225 : 228);
      assert.deepEqual(c.metadata(), { format: "pt" });
      for (const n of names) assert.equal(c.info(n).dtype, "BF16");
      const lm = c.readWeight("lm_head.weight");
      assert.equal(lm.dtype, "bf16");
      assert.equal(lm.rows, 129280);
      assert.equal(lm.cols, m === "tiny-v2" ? 32 : 16);
      // readF32 widens exactly: bits << 16
      const f = c.readF32("model.layers.1.mlp.gate.weight");
      const bits = c.readWeight("model.layers.1.mlp.gate.weight").data as Uint16Array;
      const u = new Uint32Array(f.buffer);
      for (let i = 0; i < bits.length; i++) assert.equal(u[i], (bits[i] << 16) >>> 0);
      // norm weights around 1 (fixture recipe 1 + 0.1 N)
      const norm = c.readF32("model.norm.weight");
      const mean = norm.reduce((a, b) => a + b, 0) / norm.length;
      assert.ok(Math.abs(mean - 1) < 0.1, `norm mean ${mean}`);
      c.close();
    });
  }

  test("case tensors (F32 and I32) match the stats in case.json", () => {
    const caseDir = join(FIXTURES, "cases", "v2_page_base");
    const meta = JSON.parse(readFileSync(join(caseDir, "case.json"), "utf8"));
    const c = openCheckpoint(join(caseDir, "tensors.safetensors"));
    for (const name of ["lm.norm.out.last", "embeds.prefill", "logits.step0"]) {
      const want = meta.tensors[name];
      const x = c.readF32(name, want.shape);
      let sum = 0;
      for (const v of x) sum += v;
      assert.ok(Math.abs(sum - want.stats.sum) <= 1e-6 * want.stats.abs_sum + 1e-9, `${name} sum ${sum}`);
      assert.equal(x.length, want.stats.numel);
    }
    const rows = c.readTyped("lm.rows");
    assert.ok(rows instanceof Int32Array);
    assert.equal(rows[0], 0);
    c.close();
  });
});
