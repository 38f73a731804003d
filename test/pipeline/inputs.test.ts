/**
 * openInput (page count, format, pages, one-line errors naming the file) and inputHash on every
 * corpus file (../shared/corpus/MANIFEST.json).
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PdfError } from "../../src/pdf/errors.ts";
import { InputReadError, inputHash, openInput } from "../../src/pipeline/inputs.ts";
import { ImageDecodeError } from "../../src/preprocess/decode.ts";
import { CORPUS, tempDir } from "../helpers/paths.ts";

interface ManifestEntry {
  path: string;
  bytes: number;
  sha256: string;
  expected: string;
  pages?: number | null;
  frames?: number;
  format?: string;
}

const manifest = JSON.parse(readFileSync(join(CORPUS, "MANIFEST.json"), "utf8")) as { files: ManifestEntry[] };

/** Awaits `p`, which must fail with a one-line error of class `cls` whose message names `file`. */
async function failsNaming(p: Promise<unknown>, cls: new (...a: never[]) => Error, file: string): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    assert.ok(e.message.includes(file), `names ${file}: ${e.message}`);
    return e;
  }
  assert.fail(`expected a ${cls.name} for ${file}`);
}

test("inputHash is the SHA-256 of the file bytes (every corpus file)", async () => {
  assert.ok(manifest.files.length >= 45);
  for (const e of manifest.files) assert.equal(await inputHash(join(CORPUS, e.path)), e.sha256, e.path);
});

test("inputHash: missing file and directory are one-line InputReadErrors naming the path", async () => {
  const dir = tempDir("dsocr-inputs-");
  const missing = join(dir, "nope.pdf");
  const e = await failsNaming(inputHash(missing), InputReadError, missing);
  assert.match(e.message, /no such file or directory$/);
  assert.equal((e as InputReadError).code, "ENOENT");
  assert.match((await failsNaming(inputHash(dir), InputReadError, dir)).message, /is a directory$/);
  // Empty file: the SHA-256 of nothing.
  writeFileSync(join(dir, "empty"), "");
  assert.equal(await inputHash(join(dir, "empty")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("openInput: page count and format of every good corpus image; pages decode", async () => {
  const images = manifest.files.filter((e) => e.path.startsWith("img/") && e.expected.startsWith("ok"));
  assert.ok(images.length >= 18);
  for (const e of images) {
    const path = join(CORPUS, e.path);
    const src = await openInput(path, 144);
    try {
      assert.equal(src.kind, "image", e.path);
      assert.equal(src.path, path);
      // TIFF: every page; GIF / WebP: the first frame only; other images: one page.
      assert.equal(src.pageCount, src.format === "tiff" ? (e.frames ?? 1) : 1, e.path);
      const ext = e.path.slice(e.path.lastIndexOf(".") + 1).toLowerCase();
      assert.equal(src.format, { jpg: "jpeg", tif: "tiff" }[ext] ?? ext, e.path);
    } finally {
      src.close();
    }
  }
  const tif = await openInput(join(CORPUS, "img/tiff-multipage_two-scans.tif"), 144);
  assert.equal(tif.pageCount, 2);
  const p1 = await tif.page(1);
  assert.deepEqual([p1.width, p1.height], [2560, 3300]);
  await failsNaming(tif.page(2), ImageDecodeError, "tiff-multipage_two-scans.tif");
  const gif = await openInput(join(CORPUS, "img/gif-animated_chi.gif"), 144);
  assert.equal(gif.pageCount, 1);
  assert.deepEqual([(await gif.page(0)).width, (await gif.page(0)).height], [320, 240]);
  await failsNaming(gif.page(1), ImageDecodeError, "gif-animated_chi.gif");
  const rot = await (await openInput(join(CORPUS, "img/exif-orientation-6_phototest.jpg"), 144)).page(0);
  assert.deepEqual([rot.width, rot.height], [640, 480]);
});

test("openInput: page count of every good corpus PDF; dpi applies to the render", async () => {
  const pdfs = manifest.files.filter((e) => e.path.startsWith("pdf/") && e.expected.startsWith("ok"));
  assert.ok(pdfs.length >= 15);
  for (const e of pdfs) {
    const src = await openInput(join(CORPUS, e.path), 144);
    try {
      assert.equal(src.kind, "pdf");
      assert.equal(src.format, "pdf");
      assert.equal(src.pageCount, e.pages, e.path);
    } finally {
      src.close();
    }
  }
  const letter = await openInput(join(CORPUS, "pdf/letter_moderncv.pdf"), 72);
  try {
    const page = await letter.page(0);
    assert.deepEqual([page.width, page.height], [612, 792]); // US letter, 1 px per point
  } finally {
    letter.close();
  }
});

test("openInput: every bad corpus file fails with a one-line error naming it", async () => {
  const bad = manifest.files.filter((e) => e.expected.startsWith("error"));
  assert.equal(bad.length, 11);
  for (const e of bad) {
    const path = join(CORPUS, e.path);
    let failure: unknown;
    try {
      const src = await openInput(path, 144);
      // Some damage shows only when a page is made (absurd MediaBox, truncated JPEG data).
      try {
        for (let i = 0; i < src.pageCount; i++) await src.page(i);
      } finally {
        src.close();
      }
    } catch (err) {
      failure = err;
    }
    assert.ok(failure instanceof PdfError || failure instanceof ImageDecodeError, `${e.path}: ${failure}`);
    assert.ok(failure.message.includes(path), `${e.path}: ${failure.message}`);
    assert.ok(!failure.message.includes("\n"), e.path);
  }
});

test("openInput: password, pixel limit, PDF found by signature, missing file and directory", async () => {
  const enc = join(CORPUS, "pdf/bad/encrypted_user-password.pdf");
  const opened = await openInput(enc, 144, { password: "openpassword" });
  assert.equal(opened.pageCount >= 1, true);
  opened.close();
  const tooBig = await openInput(join(CORPUS, "pdf/letter_moderncv.pdf"), 144, { maxPixels: 1000 });
  await failsNaming(tooBig.page(0), PdfError, "letter_moderncv.pdf");
  tooBig.close();
  await failsNaming(
    openInput(join(CORPUS, "img/wide_4000x300.png"), 144, { maxPixels: 1000 }),
    ImageDecodeError,
    "wide",
  );

  const dir = tempDir("dsocr-inputs-");
  const disguised = join(dir, "scan.dat");
  copyFileSync(join(CORPUS, "pdf/letter_moderncv.pdf"), disguised);
  const src = await openInput(disguised, 144);
  assert.deepEqual([src.kind, src.pageCount], ["pdf", 1]);
  src.close();
  const missing = join(dir, "missing.png");
  await failsNaming(openInput(missing, 144), InputReadError, missing);
  await failsNaming(openInput(dir, 144), InputReadError, dir);
  await failsNaming(openInput(join(dir, "missing.pdf"), 144), PdfError, "missing.pdf");
  const text = join(dir, "notes.txt");
  writeFileSync(text, "plain text, not an image\n");
  const e = await failsNaming(openInput(text, 144), ImageDecodeError, text);
  assert.equal((e as ImageDecodeError).kind, "unsupported");
});
