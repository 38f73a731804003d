/**
 * The OCR engine: one loaded checkpoint (config, tokenizer, vision encoder, language model) and
 * the per-page flow of the official `infer()` (spec 1): views -> vision embeddings -> prompt ids
 * with the `<image>` run -> merged input embeddings -> prefill -> guarded greedy decoding -> text.
 */
import { join } from "node:path";
import { openCheckpoint } from "../checkpoint/safetensors.ts";
import type { Checkpoint } from "../checkpoint/types.ts";
import { loadConfig } from "../config/config.ts";
import type { ModelConfig } from "../config/types.ts";
import { type GenerateOptions, type GenerateResult, generate, type StepInfo } from "../generate/generate.ts";
import { buildPromptIds, resolvePrompt } from "../generate/prompts.ts";
import { stripTrailingEos } from "../generate/stop.ts";
import { getKernels } from "../kernels/index.ts";
import { INT8_GROUP, type Kernels, type PackedWeight, type Precision } from "../kernels/types.ts";
import { type LoadContext, ReadBuffer } from "../model/blocks/context.ts";
import type { Dumper } from "../model/dump.ts";
import { LanguageModel, type LmState } from "../model/language-model.ts";
import {
  PackCacheMismatch,
  PackCacheReadError,
  PackCacheReader,
  PackCacheWriter,
  packCacheFile,
  packCacheKey,
} from "../model/pack-cache.ts";
import { VisionV2 } from "../model/vision-v2.ts";
import type { RgbImage } from "../preprocess/image.ts";
import { normalizeView } from "../preprocess/tensor.ts";
import { buildViews } from "../preprocess/views.ts";
import { StreamingDetokenizer } from "../tokenizer/stream.ts";
import { DeepSeekTokenizer } from "../tokenizer/tokenizer.ts";
import type { PageOptions } from "./options.ts";
import { PageQueue } from "./page-queue.ts";

/** Engine settings. */
export interface EngineOptions {
  /** Compute threads (default: the kernel pool's default, the number of cores). */
  threads?: number;
  /** Kernel set (default: the native addon). */
  kernels?: Kernels;
  /** Compute precision (default `f32`). */
  precision?: Precision;
  /**
   * Pack cache (`bf16` and `int8` with the native kernels; see src/model/pack-cache.ts): `true`
   * keeps it in `<checkpoint>/.dsocr-cache`, a string names the directory. The first load writes
   * the packed weights there (as much disk again as the packed model), later loads read them
   * instead of reading and repacking the checkpoint. Default off.
   */
  packCache?: boolean | string;
}

/** Per-call hooks. */
export interface RecognizeHooks {
  /** Called with each generated id and the decoded text it completes (may be ""). */
  onToken?: (id: number, text: string) => void;
  signal?: AbortSignal;
  /** Receives the intermediates under the fixtures' tensor names. */
  dumper?: Dumper;
}

/** Wall-clock seconds of each stage of one page. */
export interface PageTimings {
  preprocess: number;
  encode: number;
  prefill: number;
  decode: number;
}

/** The result for one page image. */
export interface PageResult {
  /** Decoded output, special tokens kept (grounding spans included), trailing EOS removed. */
  raw: string;
  /** Generated ids (the EOS id included when generated). */
  tokens: number[];
  /** Whether generation ended with EOS (false: length limit or aborted). */
  finished: boolean;
  stop: string;
  /** Prompt length in ids (BOS, image tokens and text). */
  promptTokens: number;
  imageTokens: number;
  /** Tile grid [cols, rows] or null (global view only). */
  grid: [number, number] | null;
  image: { width: number; height: number };
  timings: PageTimings;
  steps: StepInfo[];
}

const now = () => performance.now() / 1000;

/** A page between {@link OcrEngine.beginPage} (prefilled) and {@link OcrEngine.endPage}. */
export interface PageInFlight {
  /** The page's language-model state (prefilled). */
  state: LmState;
  promptIds: number[];
  /** Logits of the last prompt position. */
  firstLogits: Float32Array;
  /** Settings of its decode loop (limits, guard, sampling, signal, onToken with streaming text). */
  generateOptions: GenerateOptions;
  imageTokens: number;
  grid: [number, number] | null;
  image: { width: number; height: number };
  /** Start, after preprocessing, after encoding, after prefill (s). */
  times: [number, number, number, number];
}

/**
 * Runs `build` with the pack cache asked for (EngineOptions.packCache): replaying a matching
 * cache file, else recording one and writing it after the build. A cache that turns out not to
 * match is dropped mid-load (its packs released, the build run again from the checkpoint while
 * recording a new one); one that matches but cannot be read (mapped) is left alone and the build
 * runs from the checkpoint. Failing to write one leaves the load as it is.
 */
function loadWithPackCache<T>(
  dir: string,
  files: readonly string[],
  precision: Precision,
  k: Kernels,
  option: boolean | string | undefined,
  build: (packCache?: LoadContext["packCache"]) => T,
  release: () => void,
): { model: T; status: string } {
  if (!option || precision === "f32" || !k.loadPacked || !k.savePacked) return { model: build(), status: "off" };
  const key = packCacheKey(files, join(dir, "config.json"), precision, INT8_GROUP);
  const file = packCacheFile(typeof option === "string" ? option : join(dir, ".dsocr-cache"), precision, key);
  let reader: PackCacheReader | null = null;
  try {
    reader = PackCacheReader.open(file, key, k);
  } catch (e) {
    if (!(e instanceof PackCacheMismatch)) throw e;
  }
  if (reader) {
    try {
      const model = build({ reader });
      reader.finish();
      return { model, status: `read ${file}` };
    } catch (e) {
      if (!(e instanceof PackCacheMismatch || e instanceof PackCacheReadError)) throw e;
      release();
      if (e instanceof PackCacheReadError) return { model: build(), status: `not read (${e.message})` };
    } finally {
      reader.close();
    }
  }
  let writer: PackCacheWriter;
  try {
    writer = new PackCacheWriter(file, key, k);
  } catch (e) {
    return { model: build(), status: `not written (${(e as Error).message})` };
  }
  let model: T;
  try {
    model = build({ writer });
  } catch (e) {
    writer.abort();
    throw e;
  }
  try {
    writer.commit();
    return { model, status: `written ${file}` };
  } catch (e) {
    writer.abort();
    return { model, status: `not written (${(e as Error).message})` };
  }
}

/** A loaded DeepSeek-OCR 2 checkpoint ready to recognise page images. */
export class OcrEngine {
  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly tokenizer: DeepSeekTokenizer,
    readonly vision: VisionV2,
    readonly lm: LanguageModel,
    private readonly ckpt: Checkpoint,
    readonly kernels: Kernels,
    private readonly releaseWeights: () => void,
    /**
     * What the pack cache did at load: `off`, `read <file>`, `written <file>`, `not written
     * (<reason>)` or `not read (<reason>)` (in both the load itself went ahead without it).
     */
    readonly packCacheStatus: string,
  ) {}

  private closed = false;

  /**
   * Loads config.json, the safetensors weights and the tokenizer of a checkpoint directory.
   * @throws ConfigError, CheckpointError, TokenizerError with a message naming the file;
   *   Error for a DeepSeek-OCR (v1) checkpoint (not supported yet).
   */
  static load(dir: string, opts: EngineOptions = {}): OcrEngine {
    const config = loadConfig(join(dir, "config.json"));
    if (config.version !== "v2") {
      throw new Error(
        `${dir}: ${config.architecture} (DeepSeek-OCR v1) is not supported yet; use a DeepSeek-OCR 2 checkpoint`,
      );
    }
    const k = opts.kernels ?? getKernels();
    if (opts.threads) k.setThreads(opts.threads);
    const ckpt = openCheckpoint(dir);
    const packed: PackedWeight[] = [];
    const release = () => {
      for (const w of packed) k.releaseWeight?.(w);
      packed.length = 0;
    };
    const precision = opts.precision ?? "f32";
    const build = (packCache?: LoadContext["packCache"]) => {
      const readBuffer = new ReadBuffer();
      const ctx = { ckpt, k, precision, packed, readBuffer, packCache };
      const vision = VisionV2.load({ ...ctx, role: "vision" }, config);
      const lm = LanguageModel.load({ ...ctx, role: "lm" }, config.language);
      readBuffer.release();
      return { vision, lm };
    };
    try {
      const tokenizer = DeepSeekTokenizer.load(dir);
      const { model, status } = loadWithPackCache(dir, ckpt.files(), precision, k, opts.packCache, build, release);
      return new OcrEngine(dir, config, tokenizer, model.vision, model.lm, ckpt, k, release, status);
    } catch (e) {
      release();
      ckpt.close();
      throw e;
    }
  }

  /**
   * Recognises one page image (RGB, EXIF already applied).
   * @throws the signal's reason when aborted before decoding starts; RangeError for bad options.
   */
  recognize(img: RgbImage, opts: PageOptions, hooks: RecognizeHooks = {}): PageResult {
    const page = this.beginPage(img, opts, hooks);
    const result = generate(
      page.promptIds,
      page.firstLogits,
      (id) => this.lm.decode(page.state, id),
      page.generateOptions,
    );
    return this.endPage(page, result);
  }

  /**
   * Runs several pages concurrently: up to `concurrency` pages decode together in batched steps
   * (one {@link LanguageModel.decodeBatch} per step, see {@link PageQueue}); a new page's vision
   * encode and prefill run between steps. Greedy outputs equal {@link recognize} page by page.
   * @param images the pages, in order (an async iterable is pulled only as slots free up)
   * @param opts options of every page
   * @param many `concurrency` (default 1) and per-page hooks by page index
   * @returns the results in page order
   * @throws the first page error (the other pages still run to the end)
   */
  async recognizeMany(
    images: Iterable<RgbImage> | AsyncIterable<RgbImage>,
    opts: PageOptions,
    many: { concurrency?: number; hooks?: (index: number) => RecognizeHooks } = {},
  ): Promise<PageResult[]> {
    const queue = new PageQueue(this, { concurrency: many.concurrency ?? 1 });
    const results: Promise<PageResult>[] = [];
    let i = 0;
    for await (const img of images) {
      await queue.ready();
      results.push(queue.submit(img, opts, many.hooks?.(i)));
      i++;
    }
    return Promise.all(results);
  }

  /**
   * First half of a page: views, vision encode, prompt, merged embeddings and prefill.
   * {@link recognize} and {@link PageQueue} continue with the decode loop and {@link endPage}.
   * @throws the signal's reason when aborted; RangeError for bad options; Error after {@link close}.
   */
  beginPage(img: RgbImage, opts: PageOptions, hooks: RecognizeHooks = {}): PageInFlight {
    if (this.closed) throw new Error("the OCR engine is closed");
    const t0 = now();
    const cropMode = opts.maxTiles > 0;
    const views = buildViews(img, {
      baseSize: 1024,
      imageSize: cropMode ? 768 : 1024,
      cropMode,
      maxTiles: opts.maxTiles,
      version: "v2",
    });
    const global = normalizeView(views.global);
    const tiles = views.tiles.map((t) => normalizeView(t));
    hooks.signal?.throwIfAborted();
    const t1 = now();
    const imageEmbeds = this.vision.encodeImage(
      { global, globalSize: views.global.width, tiles, tileSize: views.tiles[0]?.width ?? 768 },
      hooks.dumper,
    );
    const hidden = this.lm.hiddenSize;
    const imageTokens = imageEmbeds.length / hidden;
    const prompt = buildPromptIds(this.tokenizer, resolvePrompt(opts.prompt), [imageTokens]);
    const embeds = this.mergeEmbeddings(prompt.ids, prompt.imageMask, imageEmbeds);
    hooks.dumper?.put("embeds.prefill", embeds, [prompt.ids.length, hidden]);
    hooks.dumper?.put("vision.merged", imageEmbeds, [imageTokens, hidden]);
    hooks.signal?.throwIfAborted();
    const t2 = now();
    const state = this.lm.newState(prompt.ids.length + Math.min(opts.maxTokens, 1024));
    const first = this.lm.prefill(state, embeds, prompt.ids.length, hooks.dumper);
    const t3 = now();
    const stream = hooks.onToken ? new StreamingDetokenizer(this.tokenizer) : null;
    return {
      state,
      promptIds: prompt.ids,
      firstLogits: first,
      generateOptions: {
        maxNewTokens: opts.maxTokens,
        maxTotalTokens: this.config.language.maxPositionEmbeddings,
        ngram: opts.ngram,
        sampling: opts.sampling,
        eosTokenId: this.config.language.eosTokenId,
        signal: hooks.signal,
        onToken: (id) => {
          if (stream && hooks.onToken) hooks.onToken(id, stream.push(id));
        },
      },
      imageTokens,
      grid: views.grid,
      image: { width: img.width, height: img.height },
      times: [t0, t1, t2, t3],
    };
  }

  /** Second half of a page: the text of the generated ids and the result record. */
  endPage(page: PageInFlight, result: GenerateResult): PageResult {
    const t4 = now();
    const [t0, t1, t2, t3] = page.times;
    const { text } = stripTrailingEos(this.tokenizer.decode(result.ids));
    return {
      raw: text,
      tokens: result.ids,
      finished: result.stop === "eos",
      stop: result.stop,
      promptTokens: page.promptIds.length,
      imageTokens: page.imageTokens,
      grid: page.grid,
      image: page.image,
      timings: { preprocess: t1 - t0, encode: t2 - t1, prefill: t3 - t2, decode: t4 - t3 },
      steps: result.steps,
    };
  }

  /** Token embeddings `[L, hidden]` with the image rows written, in order, at the `<image>` positions (spec 5.5). */
  private mergeEmbeddings(ids: number[], mask: Uint8Array, imageEmbeds: Float32Array): Float32Array {
    const hidden = this.lm.hiddenSize;
    const embeds = this.lm.embed(ids);
    let row = 0;
    for (let i = 0; i < ids.length; i++) {
      if (!mask[i]) continue;
      embeds.set(imageEmbeds.subarray(row * hidden, (row + 1) * hidden), i * hidden);
      row++;
    }
    if (row * hidden !== imageEmbeds.length) {
      throw new Error(
        `prompt has ${row} <image> positions but the vision encoder produced ${imageEmbeds.length / hidden} rows`,
      );
    }
    return embeds;
  }

  /**
   * Frees the packed (native) weights and closes the checkpoint's files. Idempotent; the engine
   * refuses pages afterwards. Pages in flight must have ended (drain a PageQueue first).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseWeights();
    this.ckpt.close();
  }
}
