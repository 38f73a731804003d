/**
 * Child process of `npm run bench` for rss.peak.* and load.*: loads the engine in the given
 * precision (timed: the checkpoint's files are in the page cache after the first run), recognises
 * one synthetic page (a few tokens) and prints the load time and its peak resident set size.
 * Usage: node --import tsx bench/rss-child.ts <modelDir> <precision> <maxTiles> <threads>
 */
import { readFileSync } from "node:fs";
import type { Precision } from "../src/kernels/types.ts";
import { OcrEngine } from "../src/pipeline/engine.ts";
import { DEFAULT_PAGE_OPTIONS } from "../src/pipeline/options.ts";

const [dir, precision, tiles, threads] = process.argv.slice(2);
const t0 = performance.now();
const engine = OcrEngine.load(dir, { precision: precision as Precision, threads: Number(threads) });
const loadSeconds = (performance.now() - t0) / 1000;
// A page-shaped (1:1.41) grey image with stripes: with maxTiles 6 it yields a tiled view set.
const width = 1240;
const height = 1754;
const data = new Uint8Array(width * height * 3);
for (let y = 0; y < height; y++) {
  const v = y % 40 < 20 ? 230 : 40;
  data.fill(v, y * width * 3, (y + 1) * width * 3);
}
const page = engine.recognize(
  { width, height, data },
  { ...DEFAULT_PAGE_OPTIONS, maxTiles: Number(tiles), maxTokens: 4 },
);
engine.close();
let hwm = process.resourceUsage().maxRSS * 1024;
try {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
  if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
} catch {
  // not Linux: maxRSS only
}
console.log(`tiles grid ${JSON.stringify(page.grid)}; prompt ${page.promptTokens} tokens`);
console.log(`LOAD_SECONDS=${loadSeconds}`);
console.log(`RSS_PEAK_BYTES=${hwm}`);
