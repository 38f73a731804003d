/**
 * Progress display of `dsocr`: a progress bar on a TTY (cli-progress: pages done of pages known,
 * documents, tokens/s, ETA) with one line per document and error above it; JSON lines (one
 * {@link JobEvent} per line) on stderr when stderr is not a TTY or with `--progress json`;
 * plain lines with `--progress plain`; nothing with `--progress none`.
 */
import cliProgress from "cli-progress";
import type { JobEvent, ProgressSink } from "../pipeline/events.ts";

/** How progress is shown. `auto`: `bar` on a TTY, else `json`. */
export type ProgressMode = "auto" | "bar" | "json" | "plain" | "none";

/** The one-line human text of an event, or null for events the bar shows itself. */
export function describeEvent(e: JobEvent): string | null {
  switch (e.event) {
    case "document":
      return `${e.input}: ${e.pages} page(s)${e.resumed ? `, ${e.resumed} done in an earlier run` : ""}`;
    case "page":
      return null;
    case "page_error":
      return e.error.includes(e.input) ? `dsocr: ${e.error}` : `dsocr: ${e.input}: page ${e.page}: ${e.error}`;
    case "retry":
      return `${e.input}: page ${e.page}: ${e.reason}; retrying with a stricter repetition guard`;
    case "document_done":
      return `${e.input}: wrote ${e.outputs.join(", ")}${e.complete ? "" : " (incomplete)"}${e.failed_pages ? ` (${e.failed_pages} page(s) failed)` : ""}`;
    case "error":
      // Most errors name the file already.
      return e.error.includes(e.input) ? `dsocr: ${e.error}` : `dsocr: ${e.input}: ${e.error}`;
    case "warning":
      return `${e.input}: warning: ${e.message}`;
    case "start":
      return null;
    case "end": {
      const parts = [`${e.documents - e.failed} of ${e.documents} document(s) done`, `${e.pages} page(s)`];
      if (e.failed) parts.push(`${e.failed} document(s) failed`);
      if (e.failed_pages) parts.push(`${e.failed_pages} page(s) failed`);
      if (e.unfinished_pages) parts.push(`${e.unfinished_pages} page(s) hit the token limit`);
      if (e.interrupted) parts.push("interrupted (rerun with --resume to continue)");
      return `dsocr: ${parts.join(", ")} in ${e.seconds.toFixed(1)} s`;
    }
  }
}

function pageLine(e: Extract<JobEvent, { event: "page" }>): string {
  const note = e.finished ? "" : " (no EOS: token limit reached)";
  return `${e.input}: page ${e.page}: ${e.tokens} tokens${note}${e.retried ? " (retried)" : ""}, ${e.seconds.toFixed(2)} s`;
}

/**
 * Creates the progress display.
 * @param mode see {@link ProgressMode}
 * @param stream where it writes (default stderr)
 */
export function createProgress(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  const resolved = mode === "auto" ? (stream.isTTY ? "bar" : "json") : mode;
  if (resolved === "none") return { emit() {}, token() {}, stop() {} };
  if (resolved === "json") {
    return {
      emit: (e) => stream.write(`${JSON.stringify(e)}\n`),
      token() {},
      stop() {},
    };
  }
  if (resolved === "plain") {
    return {
      emit: (e) => {
        const line = e.event === "page" ? pageLine(e) : describeEvent(e);
        if (line) stream.write(`${line}\n`);
      },
      token() {},
      stop() {},
    };
  }
  return barProgress(stream);
}

function barProgress(stream: NodeJS.WriteStream): ProgressSink {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: "{bar} {value}/{total} pages | {docs} documents | {rate} tok/s | ETA {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | null = null;
  let total = 0;
  let done = 0;
  let documents = 0;
  let docsDone = 0;
  const tokenTimes: number[] = [];
  const rate = () => {
    const now = performance.now();
    while (tokenTimes.length > 0 && now - tokenTimes[0] > 5000) tokenTimes.shift();
    if (tokenTimes.length < 2) return "-";
    return ((tokenTimes.length - 1) / ((tokenTimes[tokenTimes.length - 1] - tokenTimes[0]) / 1000)).toFixed(1);
  };
  const payload = () => ({ docs: `${docsDone}/${documents}`, rate: rate() });
  const update = () => {
    if (!bar) bar = multi.create(Math.max(total, 1), done, payload());
    bar.setTotal(Math.max(total, 1));
    bar.update(done, payload());
  };
  return {
    emit(e) {
      if (e.event === "start") documents = e.documents;
      if (e.event === "document") total += e.pages - e.resumed;
      if (e.event === "page" || e.event === "page_error") done++;
      if (e.event === "document_done" || e.event === "error") docsDone++;
      const line = describeEvent(e);
      if (line && e.event !== "end") multi.log(`${line}\n`);
      if (e.event === "end") {
        multi.stop();
        stream.write(`${line}\n`);
        return;
      }
      update();
    },
    token() {
      tokenTimes.push(performance.now());
      if (tokenTimes.length > 4096) tokenTimes.splice(0, 2048);
      if (bar) bar.update(done, payload());
    },
    stop() {
      multi.stop();
    },
  };
}
