/**
 * `dsocr download [repo]`: fetches a model into the Hugging Face cache (the layout the Python
 * tools use) with a progress bar on a terminal and plain lines otherwise, then prints the snapshot
 * directory on stdout. Ctrl-C keeps the partial file; the same command resumes it.
 */
import cliProgress from "cli-progress";
import { DEFAULT_MODEL } from "../hub/cache.ts";
import { type DownloadProgress, downloadModel } from "../hub/download.ts";
import { HubError } from "../hub/errors.ts";

/** Options of `dsocr download` (see main.ts). */
export interface DownloadCliOptions {
  revision?: string;
  cacheDir?: string;
}

const size = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;

/**
 * Runs `dsocr download`. Errors are printed as one line on stderr.
 *
 * @param repo `org/name[@revision]` (default {@link DEFAULT_MODEL})
 * @returns the exit code: 0 done, 1 failed (network, HTTP 401/403/404, disk, ...), 130 interrupted
 */
export async function runDownload(repo: string | undefined, opts: DownloadCliOptions): Promise<number> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  const target = repo ?? DEFAULT_MODEL;
  const show = downloadDisplay(target);
  try {
    const r = await downloadModel(target, {
      revision: opts.revision,
      cacheDir: opts.cacheDir,
      signal: controller.signal,
      onProgress: show.progress,
    });
    show.stop();
    log(
      `download: ${r.repo}@${r.commit.slice(0, 12)}: ${r.files.length} files, ${r.downloadedBytes > 0 ? `${size(r.downloadedBytes)} downloaded` : "all in the cache"}`,
    );
    process.stdout.write(`${r.dir}\n`);
    return 0;
  } catch (e) {
    show.stop();
    log(`dsocr download: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`);
    return e instanceof HubError && e.code === "aborted" ? 130 : 1;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** A download's progress display on stderr. */
export interface Display {
  progress: (p: DownloadProgress) => void;
  stop: () => void;
}

/**
 * The progress display of a model download: a bar on a terminal, plain lines otherwise. Used by
 * `dsocr download` and by the main job when `--model` names a repo missing from the cache.
 */
export function downloadDisplay(target: string): Display {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  return process.stderr.isTTY ? barDisplay() : lineDisplay(log, target);
}

/** A cli-progress bar over all bytes, naming the current file. */
function barDisplay(): Display {
  let bar: cliProgress.SingleBar | undefined;
  const t0 = performance.now();
  let startBytes = 0;
  return {
    progress(p) {
      if (p.event === "plan") {
        bar = new cliProgress.SingleBar(
          {
            format: "{file} |{bar}| {percentage}% | {done} of {size} | {speed} | ETA {eta_formatted}",
            hideCursor: true,
            etaBuffer: 200,
          },
          cliProgress.Presets.shades_classic,
        );
        startBytes = p.bytes;
        bar.start(p.totalBytes, p.bytes, { file: "", done: size(p.bytes), size: size(p.totalBytes), speed: "" });
        return;
      }
      const s = (performance.now() - t0) / 1000;
      const speed = s > 0 ? `${size((p.bytes - startBytes) / s)}/s` : "";
      bar?.update(p.bytes, { file: p.file, done: size(p.bytes), speed });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** Plain lines for logs: the plan, each file's start, every 10% of a large file, and its end. */
function lineDisplay(log: (s: string) => void, target: string): Display {
  let lastPct = 0;
  return {
    progress(p) {
      switch (p.event) {
        case "plan":
          log(`download: ${target}: ${p.files?.length ?? 0} files, ${size(p.totalBytes)}`);
          break;
        case "cached":
          log(`download: ${p.file}: in the cache (${size(p.fileSize)})`);
          break;
        case "resume":
          log(`download: ${p.file}: resuming at ${size(p.fileBytes)} of ${size(p.fileSize)}`);
          lastPct = Math.floor((100 * p.fileBytes) / p.fileSize / 10) * 10;
          break;
        case "data": {
          const pct = Math.floor((100 * p.fileBytes) / p.fileSize / 10) * 10;
          if (p.fileSize >= 10e6 && pct > lastPct && pct < 100)
            log(`download: ${p.file}: ${pct}% of ${size(p.fileSize)}`);
          lastPct = Math.max(lastPct, pct);
          break;
        }
        case "done":
          log(`download: ${p.file}: done (${size(p.fileSize)})`);
          lastPct = 0;
          break;
      }
    },
    stop() {},
  };
}
