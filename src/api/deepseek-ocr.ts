/**
 * The library API: `DeepSeekOCR.load(model)`, then `extract(image)` for one page,
 * `stream(image)` for its tokens as they come, `extractDocument(pdf)` for the pages of a document
 * as an async iterator, and `close()`.
 *
 * Pages run through one {@link PageQueue}: its decode steps yield to the event loop, so an
 * AbortSignal, a `for await` consumer or a server's I/O run while a page decodes, and concurrent
 * calls (up to `concurrency`) decode together in batched steps.
 */
import { DEFAULT_MODEL } from "../hub/cache.ts";
import { defaultPrecision } from "../kernels/index.ts";
import { OcrEngine } from "../pipeline/engine.ts";
import { openInput } from "../pipeline/inputs.ts";
import { DEFAULT_DPI, pageOptions } from "../pipeline/options.ts";
import { PageQueue } from "../pipeline/page-queue.ts";
import type { RgbImage } from "../preprocess/image.ts";
import { extractResult, toRgbImage } from "./result.ts";
import { TokenStream } from "./token-stream.ts";
import type { DocumentOptions, ExtractOptions, ExtractResult, ImageInput, LoadOptions, PageExtract } from "./types.ts";

/** A loaded DeepSeek-OCR 2 model. Create with {@link DeepSeekOCR.load}; free with {@link close}. */
export class DeepSeekOCR {
  private closed = false;
  private readonly queue: PageQueue;

  private constructor(
    /** The engine (checkpoint, tokenizer, vision encoder, language model). */
    readonly engine: OcrEngine,
    /** The checkpoint directory in use. */
    readonly modelDir: string,
    concurrency: number,
  ) {
    this.queue = new PageQueue(engine, { concurrency });
  }

  /**
   * Loads a checkpoint: a directory (config.json, safetensors, tokenizer.json; Hugging Face
   * layout) or a hub repo id resolved through the Hugging Face cache.
   * @param model checkpoint directory or repo id (default `deepseek-ai/DeepSeek-OCR-2`)
   * @throws Error naming the file or key for a missing, truncated or unsupported checkpoint; for
   *   a repo id not in the cache, an error saying which command downloads it
   */
  static async load(model: string = DEFAULT_MODEL, options: LoadOptions = {}): Promise<DeepSeekOCR> {
    const { resolveModelDir } = await import("./model-dir.ts");
    const dir = await resolveModelDir(model, options);
    const precision = !options.precision || options.precision === "auto" ? defaultPrecision() : options.precision;
    const engine = OcrEngine.load(dir, { threads: options.threads, precision, packCache: options.packCache });
    return new DeepSeekOCR(engine, dir, options.concurrency ?? 1);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("DeepSeekOCR: the model is closed");
  }

  private async run(img: RgbImage, opts: ExtractOptions, onText?: (t: string) => void): Promise<ExtractResult> {
    this.checkOpen();
    opts.signal?.throwIfAborted();
    const onToken =
      opts.onToken || onText
        ? (id: number, text: string) => {
            opts.onToken?.(id, text);
            onText?.(text);
          }
        : undefined;
    const r = await this.queue.submit(img, pageOptions(opts), { signal: opts.signal, onToken });
    if (r.stop === "aborted") throw opts.signal?.reason ?? new Error("aborted");
    return extractResult(r);
  }

  /**
   * Recognises one image.
   * @returns markdown, raw output, blocks with boxes, tokens, usage, timings, image size
   * @throws ImageDecodeError naming the file for an unreadable image; the signal's reason when
   *   aborted; RangeError for bad options; Error after {@link close}
   */
  async extract(image: ImageInput, options: ExtractOptions = {}): Promise<ExtractResult> {
    return this.run(await toRgbImage(image), options);
  }

  /**
   * Recognises one image, streaming its text: `for await (const piece of ocr.stream(img))`, then
   * `await stream.result` for the whole result.
   */
  stream(image: ImageInput, options: ExtractOptions = {}): TokenStream {
    return new TokenStream(async (onText) => this.run(await toRgbImage(image), options, onText));
  }

  /**
   * Recognises the pages of a document in order: a PDF (path or bytes; rendered at `dpi`), a
   * multi-page TIFF, one image, or a list of images. Up to `concurrency` pages are in flight.
   * @throws (from the iterator) PdfError / ImageDecodeError naming the file; the signal's reason
   */
  async *extractDocument(
    input: string | Uint8Array | Iterable<ImageInput> | AsyncIterable<ImageInput>,
    options: DocumentOptions = {},
  ): AsyncGenerator<PageExtract> {
    this.checkOpen();
    const dpi = options.dpi ?? DEFAULT_DPI;
    const src = typeof input === "string" || input instanceof Uint8Array ? await openInput(input, dpi) : undefined;
    const wanted = options.pages ? new Set(options.pages) : null;
    const pending: { page: number; result: Promise<ExtractResult> }[] = [];
    const limit = this.queue.concurrency;
    const submit = (page: number, img: RgbImage) => {
      const result = this.run(img, options);
      result.catch(() => {}); // observed when yielded
      pending.push({ page, result });
    };
    try {
      if (src) {
        for (let i = 0; i < src.pageCount; i++) {
          if (wanted && !wanted.has(i + 1)) continue;
          options.signal?.throwIfAborted();
          submit(i + 1, await src.page(i));
          while (pending.length > limit) yield await this.next(pending);
        }
      } else {
        let n = 0;
        for await (const image of input as Iterable<ImageInput> | AsyncIterable<ImageInput>) {
          n++;
          if (wanted && !wanted.has(n)) continue;
          submit(n, await toRgbImage(image));
          while (pending.length > limit) yield await this.next(pending);
        }
      }
      while (pending.length > 0) yield await this.next(pending);
    } finally {
      src?.close();
    }
  }

  private async next(pending: { page: number; result: Promise<ExtractResult> }[]): Promise<PageExtract> {
    const p = pending.shift() as (typeof pending)[number];
    return { page: p.page, ...(await p.result) };
  }

  /**
   * Waits for the pages in flight, then releases the checkpoint and the native weights. Further
   * calls throw. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.drain();
    this.engine.close();
  }
}
