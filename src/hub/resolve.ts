/**
 * `--model` resolution: a checkpoint directory, or a Hugging Face repo id looked up in the
 * Hugging Face cache (the layout the Python tools write, so a model they downloaded is reused as
 * is) and, where allowed, downloaded into it.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  cachedCommit,
  checkSnapshot,
  DEFAULT_MODEL,
  DEFAULT_REVISION,
  hubCacheDir,
  isOffline,
  parseRepoSpec,
  repoFolderName,
} from "./cache.ts";
import { type DownloadOptions, downloadModel } from "./download.ts";
import { HubError } from "./errors.ts";

export { DEFAULT_MODEL, hubCacheDir } from "./cache.ts";

/** Settings of {@link resolveModel}; the download settings apply when it downloads. */
export interface ResolveOptions extends DownloadOptions {
  /**
   * Download the model when it is not (completely) in the cache and `HF_HUB_OFFLINE` is not set
   * (default false: throw an error that says which command downloads it).
   */
  download?: boolean;
}

/** Where a model was found. */
export interface ResolvedModel {
  /** The checkpoint directory to load (a snapshot directory for a repo id). */
  dir: string;
  /** `dir`: the spec is a directory; `cache`: found in the cache; `download`: just downloaded. */
  source: "dir" | "cache" | "download";
  /** For a repo id: `org/name` and the commit of the snapshot. */
  repo?: string;
  commit?: string;
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/**
 * Resolves `--model`: a path that exists is used as the checkpoint directory; otherwise an
 * `org/name[@revision]` repo id (default {@link DEFAULT_MODEL}, revision `main` or `opts.revision`)
 * is looked up in the Hugging Face cache ({@link hubCacheDir}): `refs/{revision}` gives the commit
 * (a commit hash is used directly) and `snapshots/{commit}` must be complete (config.json, the
 * tokenizer files and every weight file; see `checkSnapshot`). A model that is missing or
 * incomplete is downloaded when `opts.download` is set and `HF_HUB_OFFLINE` is not.
 *
 * @param spec `--model`: a directory or `org/name[@revision]`; undefined means {@link DEFAULT_MODEL}
 * @returns the checkpoint directory and where it came from
 * @throws HubError `bad-spec` (a file, or neither a directory nor a repo id), `not-cached` (not in
 *   the cache and no download allowed: the message says which `npx dsocr download ...` to run),
 *   or any error of `downloadModel`
 */
export async function resolveModel(spec: string | undefined, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const env = opts.env ?? process.env;
  const s = spec ?? DEFAULT_MODEL;
  if (existsSync(s)) {
    if (!statSync(s).isDirectory()) {
      throw new HubError(
        "bad-spec",
        `--model ${s} is a file; pass the checkpoint directory (config.json + safetensors) or a repo id such as ${DEFAULT_MODEL}`,
      );
    }
    return { dir: resolve(s), source: "dir" };
  }
  const parsed = parseRepoSpec(s);
  if (!parsed) {
    throw new HubError(
      "bad-spec",
      `--model ${s}: no such directory, and not a Hugging Face repo id (org/name[@revision], e.g. ${DEFAULT_MODEL})`,
    );
  }
  const { repo } = parsed;
  const revision = parsed.revision ?? opts.revision ?? DEFAULT_REVISION;
  const cacheDir = resolve(opts.cacheDir ?? hubCacheDir(env));
  const storage = join(cacheDir, repoFolderName(repo));
  const commit = cachedCommit(storage, revision);
  const check = commit ? checkSnapshot(storage, commit) : undefined;
  if (commit && check && check.missing.length === 0) return { dir: check.dir, source: "cache", repo, commit };

  const offline = isOffline(env);
  if (opts.download && !offline) {
    const r = await downloadModel(repo, { ...opts, revision, cacheDir, env });
    return { dir: r.dir, source: "download", repo, commit: r.commit };
  }
  const label = revision === DEFAULT_REVISION ? repo : `${repo}@${revision}`;
  let command = `npx dsocr download ${repo}`;
  if (revision !== DEFAULT_REVISION) command += ` --revision ${quote(revision)}`;
  if (cacheDir !== resolve(hubCacheDir(env))) command += ` --cache-dir ${quote(cacheDir)}`;
  if (offline) command = `HF_HUB_OFFLINE=0 ${command}`;
  const where =
    check && check.missing.length > 0
      ? `is incomplete in the Hugging Face cache (${check.dir} lacks ${check.missing.slice(0, 3).join(", ")}${check.missing.length > 3 ? ", ..." : ""})`
      : `is not in the Hugging Face cache (${storage})`;
  throw new HubError("not-cached", `model ${label} ${where}; run: ${command}  (or pass --model <checkpoint dir>)`);
}
