/**
 * Ctrl-C: SIGINT stops `dsocr` between pages with exit code 130, leaving a consistent incomplete
 * document (no temporary files); `--resume` then does only the missing pages.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CORPUS, FIXTURES, REPO, tempDir } from "../helpers/paths.ts";

test("SIGINT after the first page: exit 130, an incomplete document, no temp files; --resume finishes", async () => {
  const out = tempDir();
  const pdf = join(CORPUS, "pdf", "tables-multipage_ibm-redbook-sampled.pdf"); // 18 pages
  const args = [join(REPO, "bin", "dsocr.js"), pdf, "--model", join(FIXTURES, "models", "tiny-v2")];
  args.push("--out", out, "--max-tiles", "0", "--max-tokens", "3", "--dpi", "36", "--no-retry", "--progress", "json");
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  let sent = false;
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
    if (!sent && stderr.includes('"event":"page"')) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.equal(code, 130, stderr);
  const doc = JSON.parse(readFileSync(join(out, "tables-multipage_ibm-redbook-sampled.json"), "utf8"));
  assert.equal(doc.complete, false);
  const done = doc.pages.length;
  assert.ok(done >= 1 && done < 18, `${done} pages`);
  const md = readFileSync(join(out, "tables-multipage_ibm-redbook-sampled.md"), "utf8");
  assert.equal(md.split("<--- Page Split --->").length - 1, done);
  assert.deepEqual(
    readdirSync(out).filter((f) => f.includes(".tmp")),
    [],
  );
  const again = spawnSync(process.execPath, [...args, "--resume"], { encoding: "utf8" });
  assert.equal(again.status, 0, again.stderr);
  const pages = again.stderr.split("\n").filter((l) => l.includes('"event":"page"')).length;
  assert.equal(pages, 18 - done);
  assert.equal(JSON.parse(readFileSync(join(out, "tables-multipage_ibm-redbook-sampled.json"), "utf8")).complete, true);
});
