/**
 * Several pages in flight together (issue 10, batched decode): pages are submitted, at most
 * `concurrency` of them are admitted (vision encode + prefill) and decode together, one batched
 * language-model step ({@link LanguageModel.decodeBatch}) per tick for all of them; a finished page
 * leaves and the next waiting one is admitted between steps.
 *
 * JS is single-threaded and the kernels are synchronous, so the work is interleaved cooperatively:
 * each tick (a `setImmediate` callback) admits at most one waiting page (a whole encode + prefill
 * call while the pages in flight wait) and then runs one batched decode step; between ticks the
 * event loop runs, so producers (PDF rendering, file reads) can submit the next pages.
 *
 * Every page keeps its own n-gram guard, sampler, stop condition, AbortSignal and onToken
 * (BatchDecoder), so greedy outputs equal {@link OcrEngine.recognize} page by page (bit for bit in
 * f32 up to 16 pages in flight, see LanguageModel.decodeBatch).
 */
import { BatchDecoder } from "../generate/batch.ts";
import type { LmState } from "../model/language-model.ts";
import type { OcrEngine, PageInFlight, PageResult, RecognizeHooks } from "./engine.ts";
import type { PageOptions } from "./options.ts";

/** Options of a {@link PageQueue}. */
export interface PageQueueOptions {
  /** Most pages decoding together (>= 1). */
  concurrency: number;
}

interface Waiting {
  img: Parameters<OcrEngine["recognize"]>[0];
  opts: PageOptions;
  hooks: RecognizeHooks;
  resolve: (r: PageResult) => void;
  reject: (e: unknown) => void;
}

/** A cooperative scheduler of concurrent pages on one engine. */
export class PageQueue {
  readonly concurrency: number;
  private readonly waiting: Waiting[] = [];
  private readonly decoder: BatchDecoder<LmState>;
  private scheduled = false;
  private readyWaiters: (() => void)[] = [];

  constructor(
    private readonly engine: OcrEngine,
    opts: PageQueueOptions,
  ) {
    if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) {
      throw new RangeError(`PageQueue: concurrency must be an integer >= 1, got ${opts.concurrency}`);
    }
    this.concurrency = opts.concurrency;
    this.decoder = new BatchDecoder<LmState>((states, ids) => engine.lm.decodeBatch(states, ids));
  }

  /** Pages submitted and not finished (waiting or decoding). */
  get pending(): number {
    return this.waiting.length + this.decoder.size;
  }

  /**
   * Queues a page.
   * @returns its result once decoded; rejects with the page's error (bad image, aborted before
   *   decoding, a failing callback) without affecting the other pages
   */
  submit(img: Waiting["img"], opts: PageOptions, hooks: RecognizeHooks = {}): Promise<PageResult> {
    return new Promise<PageResult>((resolve, reject) => {
      this.waiting.push({ img, opts, hooks, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Back-pressure for producers: resolves once every submitted page has been admitted (so one
   * rendered page waits at most; submit the next one after this).
   */
  ready(): Promise<void> {
    if (this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Resolves when nothing is pending. */
  async drain(): Promise<void> {
    while (this.pending > 0) await new Promise((r) => setImmediate(r));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.tick();
      if (this.pending > 0) this.schedule();
    });
  }

  /** Admits at most one waiting page, then runs one batched decode step. */
  private tick(): void {
    if (this.waiting.length > 0 && this.decoder.size < this.concurrency) {
      const w = this.waiting.shift() as Waiting;
      this.admit(w);
      if (this.waiting.length === 0) {
        const waiters = this.readyWaiters;
        this.readyWaiters = [];
        for (const r of waiters) r();
      }
    }
    if (this.decoder.size > 0) {
      try {
        this.decoder.step();
      } catch {
        // The failed pages were rejected through their onDone; the others go on.
      }
    }
  }

  private admit(w: Waiting): void {
    let page: PageInFlight;
    try {
      page = this.engine.beginPage(w.img, w.opts, w.hooks);
      this.decoder.add(page.state, page.promptIds, page.firstLogits, page.generateOptions, (seq) => {
        if (seq.result) {
          try {
            w.resolve(this.engine.endPage(page, seq.result));
          } catch (e) {
            w.reject(e);
          }
        } else w.reject(seq.error);
      });
    } catch (e) {
      w.reject(e);
    }
  }
}
