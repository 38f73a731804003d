/**
 * Generic access to one fixture case (../shared/fixtures/README.md): case.json, its tensors
 * (tensors.safetensors through the project's checkpoint reader), the preprocessed view PNGs as
 * model input, and comparisons with the stored reference tensors under the case's tolerances:
 * full tensors element by element, sampled tensors (`<name>.sample` = elements 0, s, 2s, … of the
 * flattened tensor) at the sampled positions, plus a loose check of the exact full-tensor stats.
 *
 * Used by the vision tests and meant to be reused by any test that compares with a fixture case.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import sharp from "sharp";
import { openCheckpoint } from "../../src/checkpoint/safetensors.ts";
import type { Checkpoint } from "../../src/checkpoint/types.ts";
import { bf16ToF32, f32ToBf16, referenceKernels } from "../../src/kernels/reference.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import { FIXTURES, REPO } from "./paths.ts";

/** Elementwise tolerance: `|x - ref| <= abs + rel * |ref|`. */
export interface Tolerance {
  abs: number;
  rel: number;
}

/** Exact stats of a full reference tensor (computed in float64 by the generator). */
export interface TensorStats {
  sum: number;
  abs_sum: number;
  min: number;
  max: number;
  l2: number;
  numel: number;
}

/** `case.json -> tensors[name]`. */
export interface TensorMeta {
  shape: number[];
  kind: string;
  stats?: TensorStats;
  stored: "full" | "sample";
  sample_name?: string;
  sample_stride?: number;
  dtype?: string;
  note?: string;
}

/** `case.json -> views[i]`. */
export interface CaseView {
  role: "global" | "tile";
  index: number;
  /** Relative to the case directory. */
  file: string;
  size_wh: [number, number];
  mode: string;
  rgb_sha256: string;
  normalized_f32_sha256: string;
  normalized_bf16_as_f32_sha256: string;
}

/** The parts of case.json every test may read (the rest stays reachable through the index signature). */
export interface CaseJson {
  case: string;
  model: string;
  model_dir: string;
  infer_args: { base_size: number; image_size: number; crop_mode: boolean; [k: string]: unknown };
  views: CaseView[];
  tile_grid: { crop_ratio_w_h: [number, number] | null; n_tiles: number; [k: string]: unknown };
  input_ids: number[];
  /** Number of `<image>` placeholder rows (= rows of `vision.merged`). */
  images_seq_mask_true_count: number;
  tolerances: Record<string, Partial<Tolerance> & { note?: string; exact?: boolean }>;
  tensors: Record<string, TensorMeta>;
  [k: string]: unknown;
}

/** One decoded, normalised view. */
export interface LoadedView {
  role: "global" | "tile";
  index: number;
  /** Square side in pixels. */
  size: number;
  /** `[3, size, size]`: ((u8 / 255) - 0.5) / 0.5 in f32, rounded to bf16 (RNE) and widened, as `infer()` feeds the model. */
  pixels: Float32Array;
  /** SHA-256 of the f32 tensor before the bf16 rounding (case.json `normalized_f32_sha256`). */
  f32Sha256: string;
  /** SHA-256 of `pixels` (case.json `normalized_bf16_as_f32_sha256`). */
  bf16Sha256: string;
  meta: CaseView;
}

/** Names of the cases under fixtures/cases, sorted; only those starting with `prefix` when given. */
export function listCases(prefix = ""): string[] {
  const root = join(FIXTURES, "cases");
  return readdirSync(root)
    .filter((d) => d.startsWith(prefix) && existsSync(join(root, d, "case.json")))
    .sort();
}

/** Reads a case's case.json (no tensors opened). */
export function readCaseJson(name: string): CaseJson {
  return JSON.parse(readFileSync(join(FIXTURES, "cases", name, "case.json"), "utf8")) as CaseJson;
}

/** A fixture case: case.json plus lazy access to `tensors.safetensors` and the views. */
export class FixtureCase {
  private ckpt: Checkpoint | null = null;

  private constructor(
    readonly name: string,
    /** Absolute case directory. */
    readonly dir: string,
    readonly json: CaseJson,
  ) {}

  /** Opens case `name` (e.g. "v2_page_tiles"). @throws when case.json is missing or invalid */
  static load(name: string): FixtureCase {
    return new FixtureCase(name, join(FIXTURES, "cases", name), readCaseJson(name));
  }

  /** Absolute directory of the model the case was made with (models/tiny-v1 or tiny-v2). */
  get modelDir(): string {
    return resolve(this.dir, this.json.model_dir);
  }

  /** The case's `tensors.safetensors`, opened on first use. */
  get tensors(): Checkpoint {
    this.ckpt ??= openCheckpoint(join(this.dir, "tensors.safetensors"));
    return this.ckpt;
  }

  /** Whether case.json describes tensor `name`. */
  has(name: string): boolean {
    return Object.hasOwn(this.json.tensors, name);
  }

  /** `case.json -> tensors[name]`. @throws AssertionError when absent */
  meta(name: string): TensorMeta {
    const m = this.json.tensors[name];
    assert.ok(m, `${this.name}: no tensor ${name} in case.json`);
    return m;
  }

  /** The tolerance of a tensor's kind (`case.json -> tolerances[kind]`), never loosened. @throws AssertionError */
  tolerance(name: string): Tolerance {
    const kind = this.meta(name).kind;
    const t = this.json.tolerances[kind];
    assert.ok(t && typeof t.abs === "number" && typeof t.rel === "number", `${this.name}: no tolerance for ${kind}`);
    return { abs: t.abs, rel: t.rel };
  }

  /**
   * The stored reference of a float tensor: the full tensor, or its sample (`stride` > 1) when it is
   * stored as `<name>.sample`.
   * @returns data, stride (1 for a full tensor) and the case.json entry
   * @throws AssertionError / CheckpointError when absent
   */
  reference(name: string): { data: Float32Array; stride: number; meta: TensorMeta } {
    const meta = this.meta(name);
    if (meta.stored === "sample") {
      assert.ok(meta.sample_stride && meta.sample_stride > 0, `${this.name}: ${name} has no sample_stride`);
      return { data: this.tensors.readF32(meta.sample_name ?? `${name}.sample`), stride: meta.sample_stride, meta };
    }
    return { data: this.tensors.readF32(name), stride: 1, meta };
  }

  /** An I32 tensor of the case (full). @throws when absent or not I32 */
  readI32(name: string): Int32Array {
    const info = this.tensors.info(name);
    assert.equal(info.dtype, "I32", `${this.name}: ${name} is ${info.dtype}, not I32`);
    const b = this.tensors.readBytes(name);
    return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }

  /** Absolute path of a view PNG. */
  viewPath(v: CaseView): string {
    return resolve(this.dir, v.file);
  }

  /**
   * Decodes and normalises every view of the case, in case.json order (global first, then the tiles
   * in crop order). See {@link loadViewPixels}.
   */
  async loadViews(): Promise<{ global: LoadedView; tiles: LoadedView[] }> {
    const all: LoadedView[] = [];
    for (const v of this.json.views) {
      const { pixels, width, height, f32Sha256, bf16Sha256 } = await loadViewPixels(this.viewPath(v));
      assert.equal(width, height, `${this.name}: view ${v.file} is not square`);
      all.push({ role: v.role, index: v.index, size: width, pixels, f32Sha256, bf16Sha256, meta: v });
    }
    const global = all.find((v) => v.role === "global");
    assert.ok(global, `${this.name}: no global view`);
    const tiles = all.filter((v) => v.role === "tile").sort((a, b) => a.index - b.index);
    return { global, tiles };
  }

  /** Closes the tensors file. */
  close(): void {
    this.ckpt?.close();
    this.ckpt = null;
  }
}

/** SHA-256 (hex) of the little-endian bytes of a typed array. */
export function sha256Of(x: ArrayBufferView): string {
  return createHash("sha256")
    .update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength))
    .digest("hex");
}

/**
 * HWC uint8 RGB -> `[3, h, w]` f32 as torchvision `ToTensor` + `Normalize(0.5, 0.5)` compute it
 * (f32 rounding after each step: u/255, -0.5, /0.5; spec 3.6, implementer note 3).
 */
export function normalizeRgb(rgb: Uint8Array, width: number, height: number): Float32Array {
  const n = width * height;
  assert.equal(rgb.length, 3 * n, "normalizeRgb: expected HWC RGB bytes");
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const t = Math.fround(rgb[3 * i + c] / 255);
      out[c * n + i] = Math.fround(Math.fround(t - 0.5) / 0.5);
    }
  }
  return out;
}

/**
 * Loads a view PNG (sharp, alpha dropped) and returns the model input `[3, h, w]`: normalised
 * ({@link normalizeRgb}) then rounded to bf16 and widened; with the SHA-256 of both tensors.
 */
export async function loadViewPixels(
  file: string,
): Promise<{ pixels: Float32Array; width: number; height: number; f32Sha256: string; bf16Sha256: string }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3, `${file}: expected 3 channels`);
  const norm = normalizeRgb(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width, info.height);
  const f32Sha256 = sha256Of(norm);
  const pixels = new Float32Array(norm.length);
  for (let i = 0; i < norm.length; i++) pixels[i] = bf16ToF32(f32ToBf16(norm[i]));
  return { pixels, width: info.width, height: info.height, f32Sha256, bf16Sha256: sha256Of(pixels) };
}

/** Outcome of a comparison (for reports). */
export interface CloseReport {
  /** Elements compared. */
  count: number;
  /** Largest |actual - ref|. */
  maxAbs: number;
  /** Largest |actual - ref| / (abs + rel |ref|); <= 1 passes. */
  worstRatio: number;
  /** Index (in the compared arrays) of the worst ratio. */
  worstIndex: number;
}

/**
 * Asserts `|actual[i] - ref[i]| <= abs + rel * |ref[i]|` for every i (NaN fails). The message names
 * the worst element (index, both values, its ratio to the allowance) and the number of failures.
 * @returns the error statistics
 * @throws AssertionError on a length mismatch or any element out of tolerance
 */
export function assertClose(
  actual: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: Tolerance,
  name: string,
): CloseReport {
  assert.equal(actual.length, ref.length, `${name}: ${actual.length} values, reference has ${ref.length}`);
  let maxAbs = 0;
  let worstRatio = 0;
  let worstIndex = -1;
  let bad = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(actual[i] - ref[i]);
    const lim = tol.abs + tol.rel * Math.abs(ref[i]);
    const ok = e <= lim;
    if (!ok) bad++;
    if (Number.isNaN(e)) maxAbs = Number.NaN;
    else if (e > maxAbs) maxAbs = e;
    const ratio = Number.isNaN(e) ? Number.POSITIVE_INFINITY : e / lim;
    if (worstIndex < 0 || ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = i;
    }
  }
  if (bad > 0) {
    assert.fail(
      `${name}: ${bad} of ${ref.length} values out of tolerance (abs ${tol.abs}, rel ${tol.rel}); worst at [${worstIndex}]: ` +
        `${actual[worstIndex]} vs ref ${ref[worstIndex]} (|err| ${Math.abs(actual[worstIndex] - ref[worstIndex])}, ` +
        `${worstRatio.toFixed(2)}x the allowance); max |err| ${maxAbs}`,
    );
  }
  return { count: ref.length, maxAbs, worstRatio, worstIndex };
}

/**
 * Asserts that the stats of a full tensor agree with case.json's exact stats within what the
 * elementwise tolerance implies: |Δsum| and |Δabs_sum| <= abs·numel + rel·abs_sum,
 * |Δmin|, |Δmax| <= abs + rel·max(|min|, |max|). A loose check that still catches wrong elements
 * that a sample skips over, when they are many or large.
 * @throws AssertionError
 */
export function assertStatsClose(actual: Float32Array, stats: TensorStats, tol: Tolerance, name: string): void {
  assert.equal(actual.length, stats.numel, `${name}: ${actual.length} values, reference has ${stats.numel}`);
  let sum = 0;
  let absSum = 0;
  let mn = Number.POSITIVE_INFINITY;
  let mx = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < actual.length; i++) {
    const v = actual[i];
    sum += v;
    absSum += Math.abs(v);
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  const sumTol = tol.abs * stats.numel + tol.rel * stats.abs_sum;
  const extTol = tol.abs + tol.rel * Math.max(Math.abs(stats.min), Math.abs(stats.max));
  const check = (what: string, got: number, want: number, lim: number) =>
    assert.ok(
      Math.abs(got - want) <= lim,
      `${name}: ${what} ${got} vs ref ${want} (|diff| ${Math.abs(got - want)} > ${lim})`,
    );
  check("sum", sum, stats.sum, sumTol);
  check("abs_sum", absSum, stats.abs_sum, sumTol);
  check("min", mn, stats.min, extTol);
  check("max", mx, stats.max, extTol);
}

/** Elements 0, s, 2s, … of x (the fixtures' sample rule). */
export function strided(x: ArrayLike<number>, stride: number): Float32Array {
  const n = Math.ceil(x.length / stride);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = x[i * stride];
  return out;
}

/**
 * Compares a computed full tensor with the case's reference `name` under the tolerance of its kind:
 * the element count must equal the reference numel; full references are compared element by element,
 * sampled ones at the sampled positions; the exact stats are checked with {@link assertStatsClose}.
 * @param shape optional computed shape, asserted equal to case.json's
 * @throws AssertionError
 */
export function compareWithFixture(fc: FixtureCase, name: string, actual: Float32Array, shape?: number[]): CloseReport {
  const { data, stride, meta } = fc.reference(name);
  const numel = meta.shape.reduce((a, b) => a * b, 1);
  if (shape) assert.deepEqual(shape, meta.shape, `${fc.name}: ${name} shape`);
  assert.equal(actual.length, numel, `${fc.name}: ${name} has ${actual.length} values, reference ${meta.shape}`);
  const tol = fc.tolerance(name);
  const label = `${fc.name}: ${name}${stride > 1 ? ` (sample, stride ${stride})` : ""}`;
  const report = assertClose(stride > 1 ? strided(actual, stride) : actual, data, tol, label);
  if (meta.stats) assertStatsClose(actual, meta.stats, tol, `${fc.name}: ${name} stats`);
  return report;
}

/**
 * The kernel set tests run on: `getKernels()` of src/kernels/index.ts when that module exists (the
 * native addon, or whatever it falls back to), else the reference kernels.
 */
export async function testKernels(): Promise<Kernels> {
  const idx = join(REPO, "src", "kernels", "index.ts");
  if (existsSync(idx)) {
    const mod = (await import(pathToFileURL(idx).href)) as { getKernels?: () => Kernels | Promise<Kernels> };
    if (typeof mod.getKernels === "function") return await mod.getKernels();
  }
  return referenceKernels;
}
