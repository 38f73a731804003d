/** writeFileAtomic / writeFileAtomicSync. */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { writeFileAtomic, writeFileAtomicSync } from "../../src/util/atomic.ts";
import { tempDir } from "../helpers/paths.ts";

const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.endsWith(".tmp"));

describe("writeFileAtomic", () => {
  test("writes strings (UTF-8) and bytes, and replaces an existing file", async () => {
    const dir = tempDir();
    const p = join(dir, "out.mmd");
    await writeFileAtomic(p, "héllo\n");
    assert.equal(readFileSync(p, "utf8"), "héllo\n");
    const bytes = new Uint8Array([0, 1, 2, 255]);
    await writeFileAtomic(p, bytes);
    assert.deepEqual(new Uint8Array(readFileSync(p)), bytes);
    await writeFileAtomic(p, "");
    assert.equal(readFileSync(p, "utf8"), "");
    assert.deepEqual(readdirSync(dir), ["out.mmd"]);
  });

  test("mode of a new file", async () => {
    const dir = tempDir();
    const p = join(dir, "secret.txt");
    await writeFileAtomic(p, "x", { mode: 0o600 });
    assert.equal(statSync(p).mode & 0o777, 0o600);
  });

  test("a missing directory fails with ENOENT and leaves nothing", async () => {
    const dir = tempDir();
    await assert.rejects(writeFileAtomic(join(dir, "no", "such", "f.md"), "x"), { code: "ENOENT" });
    assert.deepEqual(readdirSync(dir), []);
  });

  test("a failed rename removes the temporary file and keeps the target", async () => {
    const dir = tempDir();
    const target = join(dir, "target");
    mkdirSync(target);
    writeFileSync(join(target, "keep"), "k");
    await assert.rejects(writeFileAtomic(target, "data"));
    assert.deepEqual(leftovers(dir), []);
    assert.equal(readFileSync(join(target, "keep"), "utf8"), "k");
  });

  test("concurrent writers: the file is one complete version, no temporaries left", async () => {
    const dir = tempDir();
    const p = join(dir, "race.bin");
    const versions = Array.from({ length: 8 }, (_, i) => new Uint8Array(256 * 1024).fill(i + 1));
    await Promise.all(versions.map((v) => writeFileAtomic(p, v)));
    const got = new Uint8Array(readFileSync(p));
    assert.equal(got.length, 256 * 1024);
    assert.ok(
      got.every((b) => b === got[0]),
      "mixed content",
    );
    assert.deepEqual(leftovers(dir), []);
  });
});

describe("writeFileAtomicSync", () => {
  test("writes, replaces, and cleans up on failure", () => {
    const dir = tempDir();
    const p = join(dir, "a.md");
    writeFileAtomicSync(p, "one");
    writeFileAtomicSync(p, "two");
    assert.equal(readFileSync(p, "utf8"), "two");
    const sub = join(dir, "sub");
    mkdirSync(sub);
    assert.throws(() => writeFileAtomicSync(sub, "x"));
    assert.throws(() => writeFileAtomicSync(join(dir, "missing", "x"), "x"), { code: "ENOENT" });
    assert.deepEqual(leftovers(dir), []);
    assert.deepEqual(readdirSync(dir).sort(), ["a.md", "sub"]);
  });
});
