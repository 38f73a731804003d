/**
 * A batch job: the pages of many documents through one engine, each document written
 * incrementally by a {@link DocumentWriter} (after every page, so an interrupted run leaves a
 * consistent partial document), with `--resume`, one retry of pages that hit the token limit, an
 * AbortSignal checked between pages, and progress events.
 *
 * Documents are opened one after the other; their pages share one {@link PageQueue}, so with
 * `concurrency` > 1 the last pages of one document decode together with the first of the next.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { RgbImage } from "../preprocess/image.ts";
import { outputName } from "./document.ts";
import { DocumentWriter } from "./document-writer.ts";
import type { PageResult, RecognizeHooks } from "./engine.ts";
import type { JobEvent, ProgressSink } from "./events.ts";
import { inputHash, openInput, type PageSource } from "./inputs.ts";
import { type PageOptions, stricterNgram } from "./options.ts";
import { type PageRange, pagesBeyondCount, selectPages } from "./page-range.ts";

/**
 * What recognises the pages of a job: a {@link PageQueue} over the local engine, or anything with
 * the same three methods (a remote OpenAI-compatible endpoint, a scripted stand-in in tests).
 */
export interface PageRecognizer {
  /** Queues a page; resolves with its result (stop "aborted" when its signal fired). */
  submit(img: RgbImage, opts: PageOptions, hooks?: RecognizeHooks): Promise<PageResult>;
  /** Resolves when the producer may submit the next page (back-pressure). */
  ready(): Promise<void>;
  /** Resolves when nothing is pending. */
  drain(): Promise<void>;
}

/** Settings of a {@link runJob}. */
export interface JobOptions {
  /** Output directory (created). */
  out: string;
  page: PageOptions;
  /** PDF render resolution, dots per inch. */
  dpi: number;
  /** Password of encrypted PDFs. */
  password?: string;
  /** Pages to recognise (default all). */
  pages?: PageRange;
  /** Reuse pages of `<name>.json` written by an earlier run with the same input hash and settings. */
  resume: boolean;
  /** Retry a page that reached the token limit without EOS once, with a stricter guard (default true). */
  retry?: boolean;
  /** Also write `<name>.layout.pdf`. */
  layout: boolean;
  /** Absolute model directory (recorded in the JSON). */
  model: string;
  /** Settings recorded in the JSON; `settingsHash` identifies those that change the output. */
  settings: Record<string, unknown>;
  settingsHash: string;
  /** Stops the job between pages (the pages in flight end as `aborted` and are not recorded). */
  signal?: AbortSignal;
  progress: ProgressSink;
  /** Per-page hook (e.g. dumping intermediates): called before the page is submitted. */
  pageHooks?: (
    name: string,
    page: number,
  ) => { dumper?: import("../model/dump.ts").Dumper; done?: () => Promise<void> };
}

/** What became of one input. */
export interface DocumentOutcome {
  input: string;
  name: string;
  /** Files written (empty when the document failed before any page). */
  outputs: string[];
  /** The document's error (unreadable input), or undefined. */
  error?: string;
  complete: boolean;
  pages: number;
  failedPages: number;
  unfinishedPages: number;
}

/** Result of {@link runJob}. */
export interface JobSummary {
  documents: DocumentOutcome[];
  interrupted: boolean;
  seconds: number;
}

const errorLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0];

/**
 * Output names for the inputs: the file name without its extension, made unique with `-2`,
 * `-3`, ... when two inputs share one (in argument order, so a rerun gets the same names).
 */
export function uniqueNames(inputs: string[]): string[] {
  const seen = new Map<string, number>();
  return inputs.map((input) => {
    const base = outputName(input);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

/**
 * Runs the job over `inputs` (files; expand directories and globs first).
 * @param queue recognises the pages (e.g. `new PageQueue(engine, { concurrency })`)
 * @returns per-document outcomes; errors of single inputs or pages are reported there and as
 *   events, never thrown
 * @throws only for a failure of the output directory itself
 */
export async function runJob(queue: PageRecognizer, inputs: string[], opts: JobOptions): Promise<JobSummary> {
  const t0 = performance.now();
  mkdirSync(opts.out, { recursive: true });
  const emit = (e: JobEvent) => opts.progress.emit(e);
  emit({ event: "start", documents: inputs.length });
  const names = uniqueNames(inputs);
  const outcomes: Promise<DocumentOutcome>[] = [];
  try {
    for (const [i, input] of inputs.entries()) {
      if (opts.signal?.aborted) break;
      outcomes.push((await startDocument(queue, input, names[i], opts)).done);
    }
  } finally {
    await queue.drain();
  }
  const documents = await Promise.all(outcomes);
  const summary: JobSummary = {
    documents,
    interrupted: opts.signal?.aborted ?? false,
    seconds: (performance.now() - t0) / 1000,
  };
  emit({
    event: "end",
    documents: inputs.length,
    failed: documents.filter((d) => d.error !== undefined).length + (inputs.length - documents.length),
    pages: documents.reduce((s, d) => s + d.pages, 0),
    failed_pages: documents.reduce((s, d) => s + d.failedPages, 0),
    unfinished_pages: documents.reduce((s, d) => s + d.unfinishedPages, 0),
    seconds: summary.seconds,
    interrupted: summary.interrupted,
  });
  return summary;
}

/**
 * Opens one document and submits its pages (waiting for room in the queue); returns a promise of
 * the document's outcome that settles once its pages are done and written.
 */
async function startDocument(
  queue: PageRecognizer,
  input: string,
  name: string,
  opts: JobOptions,
): Promise<{ done: Promise<DocumentOutcome> }> {
  const emit = (e: JobEvent) => opts.progress.emit(e);
  const outcome = (error: unknown): DocumentOutcome => {
    const msg = errorLine(error);
    emit({ event: "error", input, error: msg });
    return {
      input,
      name,
      outputs: [],
      error: msg,
      complete: false,
      pages: 0,
      failedPages: 0,
      unfinishedPages: 0,
    };
  };
  const failed = (error: unknown) => ({ done: Promise.resolve(outcome(error)) });
  let src: PageSource;
  let hash: string;
  try {
    hash = await inputHash(input);
    src = await openInput(input, opts.dpi, opts.password === undefined ? {} : { password: opts.password });
  } catch (e) {
    return failed(e);
  }
  try {
    const selected = selectPages(opts.pages, src.pageCount);
    if (opts.pages) {
      const missing = pagesBeyondCount(opts.pages, src.pageCount);
      if (missing.length > 0) {
        emit({ event: "warning", input, message: `no page(s) ${missing.join(",")} (it has ${src.pageCount})` });
      }
    }
    if (selected.length === 0) {
      src.close();
      return failed(new Error(`none of the requested pages exist (the input has ${src.pageCount} page(s))`));
    }
    const writer = new DocumentWriter(
      opts.out,
      name,
      {
        input: resolve(input),
        input_sha256: hash,
        model: opts.model,
        settings: opts.settings,
        settings_hash: opts.settingsHash,
        page_count: src.pageCount,
      },
      { layout: opts.layout },
    );
    const reused = opts.resume ? reusablePages(opts.out, name, hash, opts.settingsHash) : new Map();
    const todo: number[] = [];
    for (const p of selected) {
      const rec = reused.get(p);
      if (rec) writer.addExisting(rec, opts.layout ? await src.page(p - 1) : undefined);
      else todo.push(p);
    }
    emit({
      event: "document",
      input,
      name,
      page_count: src.pageCount,
      pages: selected.length,
      resumed: selected.length - todo.length,
    });
    // Each flush writes the pages so far (the writer runs flushes one after another).
    const flush = (complete: boolean) => writer.flush(complete);
    let failedPages = 0;
    let unfinishedPages = 0;
    let aborted = false;
    const pages: Promise<void>[] = [];
    // A failed page is recorded (JSON `error`, a comment in the markdown) with the next write and
    // reported when the document ends: as page errors, or as the document's error when no page
    // of it could be read.
    const pageErrors: { page: number; error: string }[] = [];
    const pageFailed = (p: number, e: unknown) => {
      failedPages++;
      pageErrors.push({ page: p, error: errorLine(e) });
      writer.addFailed(p, errorLine(e));
    };
    for (const p of todo) {
      await queue.ready();
      if (opts.signal?.aborted) {
        aborted = true;
        break;
      }
      let img: RgbImage;
      try {
        img = await src.page(p - 1);
      } catch (e) {
        pageFailed(p, e);
        continue;
      }
      pages.push(
        runPage(queue, img, input, name, p, opts).then(
          async (r) => {
            if (!r) {
              aborted = true;
              return;
            }
            if (!r.result.finished) unfinishedPages++;
            await writer.addPage(img, p, r.result, { retried: r.retried });
            await flush(false);
          },
          (e) => {
            // A page stopped by the job's signal before it started is not a failure: it is left
            // for a later run (--resume).
            if (opts.signal?.aborted) aborted = true;
            else pageFailed(p, e);
          },
        ),
      );
    }
    src.close();
    const done = (async (): Promise<DocumentOutcome> => {
      await Promise.allSettled(pages);
      const complete = !aborted && !opts.signal?.aborted;
      if (complete && pageErrors.length > 0 && !writer.records().some((r) => !r.error)) {
        // Not one page could be read (a corrupt image, a PDF whose pages cannot render): the
        // document fails as a whole and nothing is written.
        const more = pageErrors.length > 1 ? ` (and ${pageErrors.length - 1} more page(s))` : "";
        return outcome(new Error(`${pageErrors[0].error}${more}`));
      }
      for (const pe of pageErrors) emit({ event: "page_error", input, ...pe });
      if (!complete && writer.records().length === 0) {
        // Interrupted before any page of it was done: nothing to keep (a rerun starts it afresh).
        emit({ event: "document_done", input, outputs: [], complete, failed_pages: failedPages });
        return { input, name, outputs: [], complete, pages: selected.length, failedPages, unfinishedPages };
      }
      try {
        const outputs = await flush(complete);
        emit({ event: "document_done", input, outputs, complete, failed_pages: failedPages });
        return { input, name, outputs, complete, pages: selected.length, failedPages, unfinishedPages };
      } catch (e) {
        return outcome(e);
      }
    })();
    return { done };
  } catch (e) {
    src.close();
    return failed(e);
  }
}

/**
 * One page through the queue, retried once with a stricter n-gram guard when it reached the
 * token limit without EOS. Resolves null when the job was aborted during the page.
 */
async function runPage(
  queue: PageRecognizer,
  img: RgbImage,
  input: string,
  name: string,
  page: number,
  opts: JobOptions,
): Promise<{ result: PageResult; retried: boolean } | null> {
  const once = async (pageOpts: PageOptions) => {
    const hook = opts.pageHooks?.(name, page);
    const r = await queue.submit(img, pageOpts, {
      signal: opts.signal,
      dumper: hook?.dumper,
      onToken: () => opts.progress.token(),
    });
    await hook?.done?.();
    return r;
  };
  const first = await once(opts.page);
  if (first.stop === "aborted") return null;
  const report = (r: PageResult, retried: boolean) => {
    const t = r.timings;
    opts.progress.emit({
      event: "page",
      input,
      page,
      tokens: r.tokens.length,
      seconds: t.preprocess + t.encode + t.prefill + t.decode,
      finished: r.finished,
      retried,
    });
    return { result: r, retried };
  };
  const retry = opts.retry ?? true;
  if (!retry || first.finished || first.stop !== "max-new-tokens" || opts.signal?.aborted) return report(first, false);
  opts.progress.emit({ event: "retry", input, page, reason: `no EOS after ${first.tokens.length} tokens` });
  const second = await once({ ...opts.page, ngram: stricterNgram(opts.page.ngram) });
  if (second.stop === "aborted") return null;
  return report(second, true);
}

/** Pages of an earlier run's `<name>.json` that can be reused: same input bytes, same settings, no error. */
function reusablePages(out: string, name: string, hash: string, settingsHash: string) {
  const doc = DocumentWriter.readExisting(out, name);
  const pages = new Map<number, NonNullable<typeof doc>["pages"][number]>();
  if (!doc || doc.input_sha256 !== hash || doc.settings_hash !== settingsHash) return pages;
  for (const p of doc.pages) if (!p.error) pages.set(p.page, p);
  return pages;
}
