/** Paths used by the tests. `../shared` sits beside the repository root (read-only in CI). */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The shared ground truth: spec, fixtures, tokenizer, corpus. */
export const SHARED = resolve(REPO, "..", "shared");
export const FIXTURES = join(SHARED, "fixtures");
export const CORPUS = join(SHARED, "corpus");
export const TOKENIZER_DIR = join(SHARED, "tokenizer");

/** A fresh temporary directory (tests write only there). */
export function tempDir(prefix = "dsocr-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
