/** expandInputs: files, directories (recursive, hidden skipped) and glob patterns to a file list. */
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { expandInputs, isSupportedInput, SUPPORTED_EXTENSIONS } from "../../src/pipeline/expand-inputs.ts";
import { tempDir } from "../helpers/paths.ts";

/** A tree of empty files under a fresh temporary directory. */
function tree(paths: string[]): string {
  const root = tempDir("dsocr-expand-");
  for (const p of paths) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    writeFileSync(join(root, p), "");
  }
  return root;
}

const root = tree([
  "docs/page10.png",
  "docs/page2.png",
  "docs/Report.PDF",
  "docs/notes.txt",
  "docs/README",
  "docs/.hidden.png",
  "docs/.cache/x.pdf",
  "docs/sub/deep/scan.TIFF",
  "docs/sub/a.jpeg",
  "docs/sub/b.bmp",
  "docs/sub/c.gif",
  "docs/sub/d.webp",
  "docs/sub/e.tif",
  "docs/sub/f.jpg",
  "letter.pdf",
  "photo.jpg",
  "data.csv",
  "empty-dir/.keep.png",
  "text-only/readme.md",
  "scan[1].png",
]);
mkdirSync(join(root, "really-empty"));

test("supported extensions, case-insensitive", () => {
  assert.deepEqual([...SUPPORTED_EXTENSIONS].sort(), [
    ".bmp",
    ".gif",
    ".jpeg",
    ".jpg",
    ".pdf",
    ".png",
    ".tif",
    ".tiff",
    ".webp",
  ]);
  for (const ok of ["a.PDF", "b.Jpeg", "x/y.tIf", "c.webp", "d.BMP", "e.gif", "f.png", "g.tiff", "h.jpg"]) {
    assert.ok(isSupportedInput(ok), ok);
  }
  for (const no of ["a.txt", "README", "x.pdf.bak", ".png", "pdf"]) assert.ok(!isSupportedInput(no), no);
});

test("a directory gives its supported files recursively, natural order, hidden and others skipped", async () => {
  const r = await expandInputs(["docs"], { cwd: root });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.files, [
    "docs/page2.png",
    "docs/page10.png",
    "docs/Report.PDF",
    "docs/sub/a.jpeg",
    "docs/sub/b.bmp",
    "docs/sub/c.gif",
    "docs/sub/d.webp",
    "docs/sub/deep/scan.TIFF",
    "docs/sub/e.tif",
    "docs/sub/f.jpg",
  ]);
  // An absolute directory gives absolute paths; a trailing slash is fine.
  const abs = await expandInputs([`${join(root, "docs", "sub", "deep")}/`]);
  assert.deepEqual(abs.files, [join(root, "docs/sub/deep/scan.TIFF")]);
});

test("files are taken as named, whatever their extension; order of arguments kept, duplicates dropped", async () => {
  const r = await expandInputs(["photo.jpg", "data.csv", "docs/sub", "letter.pdf", "./photo.jpg", "docs/sub/b.bmp"], {
    cwd: root,
  });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.files, [
    "photo.jpg",
    "data.csv",
    "docs/sub/a.jpeg",
    "docs/sub/b.bmp",
    "docs/sub/c.gif",
    "docs/sub/d.webp",
    "docs/sub/deep/scan.TIFF",
    "docs/sub/e.tif",
    "docs/sub/f.jpg",
    "letter.pdf",
  ]);
});

test("glob patterns: *, **, braces; relative and absolute; hidden entries skipped", async () => {
  assert.deepEqual((await expandInputs(["*.pdf"], { cwd: root })).files, ["letter.pdf"]);
  assert.deepEqual((await expandInputs(["docs/**/*.{jpeg,jpg,gif}"], { cwd: root })).files, [
    "docs/sub/a.jpeg",
    "docs/sub/c.gif",
    "docs/sub/f.jpg",
  ]);
  // `*` matches every file; only the supported ones are taken, hidden ones are not matched.
  assert.deepEqual((await expandInputs(["docs/*"], { cwd: root })).files, [
    "docs/page2.png",
    "docs/page10.png",
    "docs/Report.PDF",
  ]);
  assert.deepEqual((await expandInputs([join(root, "docs", "**", "*.TIFF")])).files, [
    join(root, "docs/sub/deep/scan.TIFF"),
  ]);
  // A file whose name looks like a pattern is a file.
  assert.deepEqual((await expandInputs(["scan[1].png"], { cwd: root })).files, ["scan[1].png"]);
});

test("arguments that give nothing are errors, the others still come through", async () => {
  const r = await expandInputs(
    [
      "missing.pdf",
      "missing (1).pdf",
      "*.xyz",
      "*.csv",
      "empty-dir",
      "really-empty",
      "text-only",
      "letter.pdf",
      "",
      "letter.pdf/x.png",
    ],
    { cwd: root },
  );
  assert.deepEqual(r.files, ["letter.pdf"]);
  assert.deepEqual(
    r.errors.map((e) => [e.input, e.error.replace(/ \(.*/, "")]),
    [
      ["missing.pdf", "no such file or directory"],
      ["missing (1).pdf", "no such file or directory"],
      ["*.xyz", "pattern matched no files"],
      ["*.csv", "pattern matched no supported files"],
      ["empty-dir", "directory has no supported files"],
      ["really-empty", "directory has no supported files"],
      ["text-only", "directory has no supported files"],
      ["", "empty file name"],
      ["letter.pdf/x.png", "no such file or directory"],
    ],
  );
  assert.match(r.errors[3].error, /1 other file/);
  assert.match(r.errors[4].error, /\.pdf .*\.bmp/);
  for (const e of r.errors) assert.ok(!e.error.includes("\n"));
});

test("a file reached through a symbolic link, or a link loop, is taken once", async () => {
  const dir = tree(["a/one.png", "a/two.pdf"]);
  symlinkSync("..", join(dir, "a", "up"));
  symlinkSync(join(dir, "a", "one.png"), join(dir, "alias.png"));
  const r = await expandInputs(["a", "alias.png"], { cwd: dir });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.files, ["a/one.png", "a/two.pdf"]);
});
