/**
 * The main job behind `dsocr <inputs...>`: expand the inputs (files, directories, globs), resolve
 * the model (directory or hub repo id in the Hugging Face cache), run every selected page through
 * the engine ({@link runJob}) and write `<name>.md`, `<name>.det.md`, `<name>.json`, crops and
 * optionally `<name>.layout.pdf` per document. A bad input or page gets a one-line error; the
 * others go on; the exit code says whether everything succeeded. Ctrl-C stops between pages.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { resolveModel } from "../hub/resolve.ts";
import { defaultPrecision } from "../kernels/index.ts";
import type { Precision } from "../kernels/types.ts";
import { MemoryDump, saveDump } from "../model/dump.ts";
import { DocumentWriter } from "../pipeline/document-writer.ts";
import { OcrEngine } from "../pipeline/engine.ts";
import { expandInputs } from "../pipeline/expand-inputs.ts";
import { settingsHash } from "../pipeline/hashes.ts";
import { runJob } from "../pipeline/job.ts";
import { pageOptions } from "../pipeline/options.ts";
import { PageQueue } from "../pipeline/page-queue.ts";
import { type PageRange, parsePageRange } from "../pipeline/page-range.ts";
import { downloadDisplay } from "./download.ts";
import { createProgress, type ProgressMode } from "./progress.ts";

/** Parsed command-line options (see main.ts). */
export interface CliOptions {
  model: string;
  /** Output directory; default `dsocr-out`, or a temporary one removed at the end with `--json`. */
  out?: string;
  pages?: string;
  password?: string;
  prompt: string;
  maxTiles: number;
  maxTokens: number;
  ngramSize: number;
  ngramWindow: number | "all";
  dpi: number;
  precision: string;
  threads: number;
  concurrency: number;
  /** `--pack-cache [dir]`: true (next to the checkpoint) or a directory (EngineOptions.packCache). */
  packCache?: boolean | string;
  temperature?: number;
  topP: number;
  seed: number;
  json?: boolean;
  layout?: boolean;
  retry: boolean;
  resume?: boolean;
  progress: ProgressMode;
  download: boolean;
  dump?: string;
}

const errorLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0];

/** Exit codes: 0 all done, 1 some input or page failed, 2 usage / model error, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/**
 * Runs the job.
 * @returns the process exit code ({@link EXIT})
 */
export async function runCli(args: string[], opts: CliOptions): Promise<number> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (args.length === 0) {
    log("dsocr: no inputs (try: dsocr file.pdf; dsocr scans/ --out out; dsocr --help)");
    return EXIT.usage;
  }
  let pages: PageRange | undefined;
  try {
    pages = opts.pages ? parsePageRange(opts.pages) : undefined;
  } catch (e) {
    log(`dsocr: --pages: ${errorLine(e)}`);
    return EXIT.usage;
  }
  const expanded = await expandInputs(args);
  for (const e of expanded.errors) log(`dsocr: ${e.input}: ${e.error}`);
  if (expanded.files.length === 0) {
    log("dsocr: nothing to do: no input files found");
    return EXIT.usage;
  }
  let modelDir: string;
  // A repo id missing from the Hugging Face cache is downloaded there first, with its progress.
  const download = downloadDisplay(opts.model);
  try {
    modelDir = (await resolveModel(opts.model, { download: opts.download, onProgress: download.progress })).dir;
  } catch (e) {
    download.stop();
    log(`dsocr: ${errorLine(e)}`);
    return EXIT.usage;
  }
  download.stop();
  const precision: Precision = opts.precision === "auto" ? defaultPrecision() : (opts.precision as Precision);
  let engine: OcrEngine;
  try {
    engine = OcrEngine.load(modelDir, { threads: opts.threads, precision, packCache: opts.packCache });
  } catch (e) {
    log(`dsocr: cannot load model: ${errorLine(e)}`);
    return EXIT.usage;
  }
  if (engine.packCacheStatus.startsWith("not ")) log(`dsocr: pack cache ${engine.packCacheStatus}`);
  const page = pageOptions(opts);
  // What changes the output (a resumed page must have been made with the same).
  const outputSettings = {
    model: resolve(modelDir),
    prompt: opts.prompt,
    max_tiles: opts.maxTiles,
    max_tokens: opts.maxTokens,
    ngram_size: opts.ngramSize,
    ngram_window: opts.ngramWindow,
    dpi: opts.dpi,
    precision,
    sampling: page.sampling ?? null,
  };
  const hash = settingsHash(outputSettings);
  const settings = {
    ...outputSettings,
    threads: engine.kernels.getThreads(),
    concurrency: opts.concurrency,
    kernels: engine.kernels.name,
  };
  // `--json` alone prints the records and keeps no files: the outputs go to a temporary directory.
  const tempOut = opts.out === undefined && opts.json ? mkdtempSync(join(tmpdir(), "dsocr-")) : undefined;
  const out = opts.out ?? tempOut ?? "dsocr-out";
  const progress = createProgress(opts.progress);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    progress.emit({
      event: "warning",
      input: "dsocr",
      message: "interrupted: finishing the pages in flight (Ctrl-C again to quit now)",
    });
    controller.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  try {
    const queue = new PageQueue(engine, { concurrency: opts.concurrency });
    const summary = await runJob(queue, expanded.files, {
      out,
      page,
      dpi: opts.dpi,
      pages,
      password: opts.password,
      resume: opts.resume ?? false,
      layout: opts.layout ?? false,
      retry: opts.retry,
      model: resolve(modelDir),
      settings,
      settingsHash: hash,
      signal: controller.signal,
      progress,
      pageHooks: opts.dump
        ? (name, p) => {
            const dumper = new MemoryDump();
            return { dumper, done: () => saveDump(dumper, `${opts.dump}/${name}.p${p}.safetensors`) };
          }
        : undefined,
    });
    if (opts.json) {
      const documents = summary.documents
        .filter((d) => d.error === undefined)
        .map((d) => DocumentWriter.readExisting(out, d.name));
      const errors = [
        ...expanded.errors,
        ...summary.documents.filter((d) => d.error !== undefined).map((d) => ({ input: d.input, error: d.error })),
      ];
      const result: Record<string, unknown> = { documents, errors, interrupted: summary.interrupted };
      const all = documents.flatMap((d) => d?.pages ?? []);
      if (all.length === 1) {
        result.tokens = all[0].tokens;
        result.text = all[0].raw;
      }
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
    if (summary.interrupted) return EXIT.interrupted;
    const bad =
      expanded.errors.length > 0 ||
      summary.documents.some((d) => d.error !== undefined || d.failedPages > 0 || !d.complete);
    return bad ? EXIT.failed : EXIT.ok;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    progress.stop();
    engine.close();
    if (tempOut) rmSync(tempOut, { recursive: true, force: true });
  }
}
