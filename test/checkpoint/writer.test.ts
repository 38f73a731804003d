import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CheckpointError } from "../../src/checkpoint/errors.ts";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import {
  buildSafetensorsLayout,
  planShards,
  referenceOrder,
  SafetensorsWriter,
  shardFileName,
  type TensorSpec,
  writeSafetensors,
  writeSafetensorsStreaming,
  writeShardedSafetensors,
} from "../../src/checkpoint/writer.ts";
import { FIXTURES, tempDir } from "../helpers/paths.ts";

describe("safetensors writer", () => {
  test("byte layout equals the reference serializer's (F32 [1,2,3] 'attn.0' = 0..5)", () => {
    const dir = tempDir();
    const file = join(dir, "ref.safetensors");
    writeSafetensors(file, [
      { name: "attn.0", dtype: "F32", shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
    ]);
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    assert.equal(json.length, 64); // already a multiple of 8: no padding
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(64n);
    const want = Buffer.concat([len, Buffer.from(json), Buffer.from(new Float32Array([0, 1, 2, 3, 4, 5]).buffer)]);
    assert.deepEqual(readFileSync(file), want);
  });

  test("header padded with spaces to a multiple of 8; __metadata__ first", () => {
    for (let n = 1; n <= 9; n++) {
      const { header } = buildSafetensorsLayout([{ name: "x".repeat(n), dtype: "U8", shape: [1] }], { format: "pt" });
      const hl = Number(header.readBigUInt64LE(0));
      assert.equal(hl % 8, 0);
      assert.equal(header.length, 8 + hl);
      const text = header.subarray(8).toString("utf8");
      assert.ok(text.startsWith('{"__metadata__":{"format":"pt"},'), text);
      assert.match(text, /} *$/);
      assert.ok(text.trimEnd().length > hl - 8, "at most 7 spaces of padding");
    }
    const empty = buildSafetensorsLayout([]);
    assert.deepEqual([...empty.header], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  });

  test("reference order: I64, F32, I32, BF16, F16, I8, U8, then name", () => {
    const specs: TensorSpec[] = [
      { name: "b", dtype: "U8", shape: [1] },
      { name: "a", dtype: "BF16", shape: [1] },
      { name: "z", dtype: "I64", shape: [1] },
      { name: "c", dtype: "F32", shape: [1] },
      { name: "a", dtype: "I32", shape: [1] },
      { name: "B", dtype: "F16", shape: [1] },
      { name: "a", dtype: "I8", shape: [1] },
      { name: "a", dtype: "F32", shape: [1] },
    ];
    assert.deepEqual(
      referenceOrder(specs).map((s) => `${s.dtype}:${s.name}`),
      ["I64:z", "F32:a", "F32:c", "I32:a", "BF16:a", "F16:B", "I8:a", "U8:b"],
    );
  });

  test("rewriting the tiny-v2 fixture reproduces its data section and tensor order", () => {
    const src = openCheckpoint(join(FIXTURES, "models", "tiny-v2"));
    const dir = tempDir();
    const out = join(dir, "model.safetensors");
    writeSafetensors(
      out,
      src.names().map((n) => ({ ...src.info(n), data: src.readBytes(n) })),
      { format: "pt" },
    );
    const copy = openCheckpoint(dir);
    assert.deepEqual(copy.names(), src.names());
    const a = readFileSync(join(FIXTURES, "models", "tiny-v2", "model.safetensors"));
    const b = readFileSync(out);
    const da = a.subarray(8 + Number(a.readBigUInt64LE(0)));
    const db = b.subarray(8 + Number(b.readBigUInt64LE(0)));
    assert.ok(da.equals(db), "data sections equal");
    src.close();
    copy.close();
  });

  test("streaming: chunked writes, zero-size tensors, keeps order, no temp files left", () => {
    const dir = tempDir();
    const file = join(dir, "s.safetensors");
    const specs: TensorSpec[] = [
      { name: "z.big", dtype: "BF16", shape: [1000, 3] },
      { name: "a.empty", dtype: "F32", shape: [0, 5] },
      { name: "m.small", dtype: "I32", shape: [2] },
    ];
    const size = writeSafetensorsStreaming(file, specs, (s, write) => {
      if (s.name === "z.big") {
        for (let i = 0; i < 3; i++) write(new Uint16Array(1000).fill(i + 1));
        return;
      }
      if (s.name === "m.small") return new Int32Array([7, -8]);
    });
    assert.equal(readFileSync(file).length, size);
    const c = openCheckpoint(file);
    assert.deepEqual(c.names(), ["z.big", "a.empty", "m.small"]);
    const big = c.readTyped("z.big") as Uint16Array;
    assert.equal(big[0], 1);
    assert.equal(big[1000], 2);
    assert.equal(big[2999], 3);
    assert.deepEqual([...c.readTyped("m.small")], [7, -8]);
    assert.equal(c.readF32("a.empty", [0, 5]).length, 0);
    c.close();
    assert.deepEqual(readdirSync(dir), ["s.safetensors"]);
  });

  test("wrong amount of data, out-of-order writes and bad specs throw and leave nothing behind", () => {
    const dir = tempDir();
    const file = join(dir, "bad.safetensors");
    const specs: TensorSpec[] = [
      { name: "a", dtype: "F32", shape: [4] },
      { name: "b", dtype: "F32", shape: [2] },
    ];
    const check = (fn: () => unknown, code: string) => {
      assert.throws(fn, (e: unknown) => e instanceof CheckpointError && e.code === code && e.message.includes(file));
      assert.deepEqual(readdirSync(dir), []);
    };
    check(() => writeSafetensorsStreaming(file, specs, () => new Float32Array(3)), "shape");
    check(() => writeSafetensorsStreaming(file, specs, () => new Float32Array(5)), "shape");
    check(() => {
      const w = new SafetensorsWriter(file, specs);
      w.write("b", new Float32Array(2));
    }, "bad-header");
    check(() => {
      const w = new SafetensorsWriter(file, specs);
      w.write("a", new Float32Array(4));
      w.finish();
    }, "shape");
    check(
      () => writeSafetensors(file, [{ name: "a", dtype: "F64" as never, shape: [1], data: new Uint8Array(8) }]),
      "dtype",
    );
    check(() => writeSafetensors(file, [{ name: "a", dtype: "F32", shape: [-1], data: new Uint8Array(0) }]), "shape");
    check(
      () =>
        writeSafetensors(file, [
          { name: "a", dtype: "U8", shape: [1], data: new Uint8Array(1) },
          { name: "a", dtype: "U8", shape: [1], data: new Uint8Array(1) },
        ]),
      "bad-header",
    );
    check(
      () => writeSafetensors(file, [{ name: "__metadata__", dtype: "U8", shape: [1], data: new Uint8Array(1) }]),
      "bad-header",
    );
  });

  test("atomic replace: an existing file is only replaced on success", () => {
    const dir = tempDir();
    const file = join(dir, "m.safetensors");
    writeSafetensors(file, [{ name: "old", dtype: "U8", shape: [1], data: new Uint8Array([1]) }]);
    const before = readFileSync(file);
    assert.throws(() =>
      writeSafetensorsStreaming(file, [{ name: "new", dtype: "U8", shape: [2] }], () => new Uint8Array(1)),
    );
    assert.deepEqual(readFileSync(file), before);
    writeSafetensors(file, [{ name: "new", dtype: "U8", shape: [1], data: new Uint8Array([2]) }]);
    const c = openCheckpoint(file);
    assert.deepEqual(c.names(), ["new"]);
    c.close();
  });

  test("shard planning and names", () => {
    assert.equal(shardFileName(0, 2), "model-00001-of-00002.safetensors");
    assert.equal(shardFileName(11, 12), "model-00012-of-00012.safetensors");
    const specs: TensorSpec[] = [10, 10, 50, 200, 10, 10, 10].map((n, i) => ({
      name: `t${i}`,
      dtype: "U8",
      shape: [n],
    }));
    assert.deepEqual(
      planShards(specs, 60).map((g) => g.map((s) => s.name)),
      [["t0", "t1"], ["t2"], ["t3"], ["t4", "t5", "t6"]],
    );
    assert.equal(planShards(specs, 1e9).length, 1);
    assert.throws(() => planShards(specs, 0), RangeError);
  });

  test("sharded writer: index total_size, weight_map, atomic index", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "unrelated.txt"), "keep");
    const specs: TensorSpec[] = Array.from({ length: 6 }, (_, i) => ({
      name: `w.${5 - i}`,
      dtype: "BF16",
      shape: [50],
    }));
    const shards: string[] = [];
    const r = writeShardedSafetensors(dir, specs, (s) => new Uint16Array(50).fill(Number(s.name.slice(2))), {
      maxShardBytes: 250,
      metadata: { format: "pt" },
      indexMetadata: { note: "x" },
      onShard: (f) => shards.push(f),
    });
    assert.deepEqual(r.shards, shards);
    assert.equal(r.shards.length, 3);
    const index = JSON.parse(readFileSync(r.indexFile, "utf8"));
    assert.deepEqual(index.metadata, { note: "x", total_size: 600 });
    assert.deepEqual(Object.keys(index.weight_map), ["w.0", "w.1", "w.2", "w.3", "w.4", "w.5"]);
    assert.equal(index.weight_map["w.5"], "model-00001-of-00003.safetensors");
    assert.equal(index.weight_map["w.0"], "model-00003-of-00003.safetensors");
    const c = openCheckpoint(dir);
    for (let i = 0; i < 6; i++) assert.equal((c.readTyped(`w.${i}`) as Uint16Array)[49], i);
    // each shard's own header uses the reference order
    const first = openCheckpoint(r.shards[0]);
    assert.deepEqual(first.names(), ["w.4", "w.5"]);
    first.close();
    c.close();
    assert.deepEqual(readdirSync(dir).sort(), [
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
      "model.safetensors.index.json",
      "unrelated.txt",
    ]);
  });
});
