/**
 * The main job behind `dsocr <inputs...>`: every page of every input through the engine, one
 * `<name>.md` + `<name>.json` per input in `--out`, or one JSON object on stdout with `--json`.
 * A bad input gets a one-line error naming it; the others go on; the exit code says whether all
 * succeeded.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { defaultPrecision } from "../kernels/index.ts";
import type { Precision } from "../kernels/types.ts";
import { MemoryDump, saveDump } from "../model/dump.ts";
import {
  type DocumentMeta,
  type DocumentRecord,
  documentRecord,
  outputName,
  type PageRecord,
  pageRecord,
} from "../pipeline/document.ts";
import { DocumentWriter } from "../pipeline/document-writer.ts";
import { OcrEngine } from "../pipeline/engine.ts";
import { settingsHash, sha256File } from "../pipeline/hashes.ts";
import { openInput } from "../pipeline/inputs.ts";
import type { PageOptions } from "../pipeline/options.ts";
import { PageQueue } from "../pipeline/page-queue.ts";

/** Parsed command-line options (see main.ts). */
export interface CliOptions {
  model?: string;
  out: string;
  prompt: string;
  maxTiles: number;
  maxTokens: number;
  ngramSize: number;
  ngramWindow: number | "all";
  dpi: number;
  precision: string;
  threads: number;
  /** Pages in flight together (default 1). */
  concurrency?: number;
  temperature?: number;
  topP: number;
  seed: number;
  json?: boolean;
  dump?: string;
}

const errorLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0];

/**
 * Runs the job. @returns the process exit code: 0 all inputs done, 1 some failed, 2 usage error.
 */
export async function runCli(inputs: string[], opts: CliOptions): Promise<number> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (inputs.length === 0) {
    log("dsocr: no input files (try: dsocr file.pdf --model <checkpoint dir>; dsocr --help)");
    return 2;
  }
  if (!opts.model) {
    log("dsocr: --model <dir> is required (a DeepSeek-OCR 2 checkpoint directory; for a demo: npm run demo)");
    return 2;
  }
  if (!existsSync(opts.model) || !statSync(opts.model).isDirectory()) {
    log(`dsocr: --model ${opts.model}: not a directory`);
    return 2;
  }
  const pageOptions: PageOptions = {
    prompt: opts.prompt,
    maxTiles: opts.maxTiles,
    maxTokens: opts.maxTokens,
    ngram: { size: opts.ngramSize, window: opts.ngramWindow },
    sampling:
      opts.temperature && opts.temperature > 0
        ? { temperature: opts.temperature, topP: opts.topP, seed: opts.seed }
        : undefined,
  };
  const precision: Precision = opts.precision === "auto" ? defaultPrecision() : (opts.precision as Precision);
  let engine: OcrEngine;
  try {
    engine = OcrEngine.load(opts.model, { threads: opts.threads, precision });
  } catch (e) {
    log(`dsocr: cannot load model: ${errorLine(e)}`);
    return 2;
  }
  const settings = {
    prompt: opts.prompt,
    max_tiles: opts.maxTiles,
    max_tokens: opts.maxTokens,
    ngram_size: opts.ngramSize,
    ngram_window: opts.ngramWindow,
    dpi: opts.dpi,
    precision,
    threads: engine.kernels.getThreads(),
    concurrency: opts.concurrency ?? 1,
    kernels: engine.kernels.name,
  };
  if (!opts.json) mkdirSync(opts.out, { recursive: true });
  if (opts.dump) mkdirSync(opts.dump, { recursive: true });
  // Pages of all inputs go through one queue: up to --concurrency pages decode together; the next
  // page is rendered while the others decode. Each document is written once all its pages are done.
  const queue = new PageQueue(engine, { concurrency: opts.concurrency ?? 1 });
  const documents: (DocumentRecord | undefined)[] = [];
  const errors: ({ input: string; error: string } | undefined)[] = [];
  const finished: Promise<void>[] = [];
  const fail = (index: number, input: string, e: unknown) => {
    errors[index] = { input, error: errorLine(e) };
    log(`dsocr: ${input}: ${errorLine(e)}`);
  };
  try {
    for (const [index, input] of inputs.entries()) {
      const name = outputName(input);
      const pages: Promise<PageRecord>[] = [];
      let renderError: unknown;
      let meta: DocumentMeta | undefined;
      let writer: DocumentWriter | undefined;
      try {
        const src = await openInput(input, opts.dpi);
        try {
          meta = {
            input: resolve(input),
            input_sha256: await sha256File(input),
            model: resolve(opts.model as string),
            settings,
            settings_hash: settingsHash(settings),
            page_count: src.pageCount,
          };
          const w = opts.json
            ? undefined
            : new DocumentWriter(opts.out, name, meta, {
                layout: true,
                layoutDpi: src.kind === "pdf" ? opts.dpi : undefined,
              });
          writer = w;
          for (let i = 0; i < src.pageCount; i++) {
            await queue.ready();
            const img = await src.page(i);
            const dumper = opts.dump ? new MemoryDump() : undefined;
            pages.push(
              queue.submit(img, pageOptions, { dumper }).then(async (r) => {
                if (dumper && opts.dump) await saveDump(dumper, join(opts.dump, `${name}.p${i + 1}.safetensors`));
                log(
                  `${input}: page ${i + 1}/${src.pageCount}: ${r.tokens.length} tokens${r.finished ? "" : " (no EOS: token limit reached)"}, ${(r.timings.encode + r.timings.prefill + r.timings.decode).toFixed(2)} s`,
                );
                if (!w) return pageRecord(i + 1, r);
                const record = await w.addPage(img, i + 1, r);
                await w.flush(false);
                return record;
              }),
            );
          }
        } finally {
          src.close();
        }
      } catch (e) {
        renderError = e;
      }
      finished.push(
        (async () => {
          if (renderError !== undefined) {
            await Promise.allSettled(pages);
            fail(index, input, renderError);
            return;
          }
          try {
            const records = await Promise.all(pages);
            documents[index] = writer ? writer.toRecord(true) : documentRecord(meta as DocumentMeta, records, true);
            if (writer) {
              const written = await writer.flush(true);
              log(`${input}: wrote ${written.join(", ")}`);
            }
          } catch (e) {
            await Promise.allSettled(pages);
            fail(index, input, e);
          }
        })(),
      );
    }
    await Promise.all(finished);
  } finally {
    await queue.drain();
    engine.close();
  }
  if (opts.json) {
    const docs = documents.filter((d) => d !== undefined);
    const allPages = docs.flatMap((d) => d.pages);
    const out: Record<string, unknown> = { documents: docs, errors: errors.filter((e) => e !== undefined) };
    if (allPages.length === 1) {
      out.tokens = allPages[0].tokens;
      out.text = allPages[0].raw;
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  const failed = errors.filter((e) => e !== undefined).length;
  if (failed > 0) {
    log(`dsocr: ${failed} of ${inputs.length} input(s) failed`);
    return 1;
  }
  return 0;
}
