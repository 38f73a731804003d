#!/usr/bin/env node
// `npm run demo`: generates the tiny random-weight DeepSeek-OCR 2 checkpoint and runs the whole
// pipeline (PDF rendering, views, vision encoder, language model, markdown + JSON output) on a
// real two-page PDF shipped in examples/. Random weights produce random text: this shows that
// everything runs end to end, not what the real model reads.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const bin = join(root, "bin", "dsocr.js");
const out = join(root, "demo-out");
const model = join(out, "tiny-v2");
const pdf = join(root, "examples", "deepseek-ocr2-paper-p1-2.pdf");

function run(args) {
  console.error(`$ dsocr ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(model, "config.json"))) run(["make-random", "--preset", "tiny-v2", "--out", model]);
run([pdf, "--model", model, "--out", out, "--max-tokens", "48", "--progress", process.stderr.isTTY ? "bar" : "plain"]);
console.error(`
Done: ${join(out, "deepseek-ocr2-paper-p1-2.md")}, .det.md and .json.
The checkpoint has RANDOM weights, so the text is random tokens: this demo shows the pipeline
running end to end. For real OCR run \`npx dsocr <file>\`: it uses (or downloads) the official
DeepSeek-OCR 2 checkpoint (https://huggingface.co/deepseek-ai/DeepSeek-OCR-2) in the Hugging Face cache.`);
