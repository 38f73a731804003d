/**
 * `downloadModel`: fetches the files of a checkpoint that the engine needs from the Hugging Face
 * Hub into the Hugging Face cache, in the layout the Python tools write (see cache.ts), so either
 * side reuses what the other downloaded.
 *
 * The Hub API calls go through the official `@huggingface/hub` package: `modelInfo` (the commit a
 * revision points to), `listFiles` (names, sizes, sha256 / git oids) and `downloadFile` (the
 * resolve URL and its size, as a Blob whose `slice()` makes HTTP Range requests). Its own
 * `snapshotDownload` / `downloadFileToCacheDir` are not used: they fetch every file of a
 * repository, cannot resume a partial file, report no progress, take no AbortSignal, and name the
 * snapshot of a file after the last commit that touched it rather than the revision's commit. The
 * cache writing is therefore done here: `blobs/{etag}.incomplete` resumed with a Range request,
 * checked against its size and checksum, renamed to `blobs/{etag}` and linked from
 * `snapshots/{commit}/`, then `refs/{revision}` written.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, open, readFile, rename, rm, stat, statfs, symlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { downloadFile, HubApiError, type ListFileEntry, listFiles, modelInfo } from "@huggingface/hub";
import {
  checkSnapshot,
  DEFAULT_MODEL,
  DEFAULT_REVISION,
  type Env,
  hubCacheDir,
  hubEndpoint,
  hubToken,
  INDEX_FILE,
  indexShards,
  isCommitHash,
  isOffline,
  isSafeRelativePath,
  MODEL_FILES,
  parseRepoSpec,
  repoFolderName,
  SINGLE_FILE,
} from "./cache.ts";
import { HubError } from "./errors.ts";

export { MODEL_FILES } from "./cache.ts";

/** One step of a download, for progress displays. */
export interface DownloadProgress {
  /**
   * - `plan`: the file list is known (`files`, `totalBytes`); sent once, before any other event.
   * - `cached`: `file` is already in the cache.
   * - `resume`: `file` continues a partial download from `fileBytes`.
   * - `data`: bytes of `file` arrived.
   * - `done`: `file` is complete, verified and linked into the snapshot.
   */
  event: "plan" | "cached" | "resume" | "data" | "done";
  /** The repository file (empty on `plan`). */
  file: string;
  /** Bytes of `file` on disk so far, and its size. */
  fileBytes: number;
  fileSize: number;
  /** Bytes of all files on disk so far (cached ones included), and the total of all files. */
  bytes: number;
  totalBytes: number;
  /** The files to fetch with their sizes (on `plan` only). */
  files?: { path: string; size: number }[];
}

/** Settings of {@link downloadModel}. */
export interface DownloadOptions {
  /** Branch, tag or commit hash (default `main`); an `@revision` in the repo id takes precedence. */
  revision?: string;
  /** The hub cache directory (default {@link hubCacheDir}: `HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`). */
  cacheDir?: string;
  /** The Hub's base URL (default `HF_ENDPOINT`, else https://huggingface.co). */
  endpoint?: string;
  /**
   * Access token sent as `Authorization: Bearer` to the endpoint (never to the CDN it redirects
   * to). Default: `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, `HF_HUB_TOKEN` or the token file
   * (see `hubToken`); `null` sends none.
   */
  token?: string | null;
  /** Called for every step (see {@link DownloadProgress}). */
  onProgress?: (p: DownloadProgress) => void;
  /** Aborts the download; the partial file stays in the cache and the next call resumes it. */
  signal?: AbortSignal;
  /** Environment variables (default `process.env`). */
  env?: Env;
  /** How many times a broken transfer is resumed before giving up (default 5). */
  retries?: number;
  /** The fetch implementation (default the global one). */
  fetch?: typeof fetch;
}

/** What {@link downloadModel} did. */
export interface DownloadResult {
  /** The snapshot directory (`<cache>/models--{org}--{name}/snapshots/{commit}`): a checkpoint directory. */
  dir: string;
  /** `org/name`. */
  repo: string;
  /** The revision asked for, and the commit it points to. */
  revision: string;
  commit: string;
  /** The repository files now in the snapshot. */
  files: string[];
  /** Bytes transferred by this call (0 when everything was cached). */
  downloadedBytes: number;
}

interface Ctx {
  repo: string;
  revision: string;
  label: string;
  cacheDir: string;
  storage: string;
  endpoint: string;
  token?: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
  retries: number;
  /** The file being fetched, for error messages. */
  file?: string;
  downloaded: number;
}

/**
 * Downloads the files of a model repository that the engine needs ({@link MODEL_FILES} and the
 * weights: the shards named by `model.safetensors.index.json`, else `model.safetensors`, else the
 * one `*.safetensors` file) into the Hugging Face cache, in huggingface_hub's layout. Files already
 * in the cache are not fetched again; a partial `blobs/{etag}.incomplete` is resumed with an HTTP
 * Range request; every file is checked against its size and sha256 (LFS files) or git blob sha1.
 * Repository files the repo lacks among MODEL_FILES get a `.no_exist/{commit}/` marker, as the
 * Python tools record them.
 *
 * @param repo `org/name` or `org/name@revision`
 * @returns the snapshot directory and what was done
 * @throws HubError (one-line message saying what to do) with code `bad-spec` (not a repo id),
 *   `offline` (`HF_HUB_OFFLINE` is set), `auth` (HTTP 401/403: hint about HF_TOKEN), `not-found`
 *   (HTTP 404, or the repo is not a checkpoint), `http`, `network`, `disk` (no space, not
 *   writable), `corrupt` (size or checksum mismatch), `busy` (another process downloads the same
 *   file) or `aborted` (the signal fired; run again to resume)
 */
export async function downloadModel(repo: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const env = opts.env ?? process.env;
  const spec = parseRepoSpec(repo);
  if (!spec) {
    throw new HubError(
      "bad-spec",
      `"${repo}" is not a Hugging Face repo id; pass org/name[@revision], e.g. ${DEFAULT_MODEL}`,
    );
  }
  const revision = spec.revision ?? opts.revision ?? DEFAULT_REVISION;
  const label = revision === DEFAULT_REVISION ? spec.repo : `${spec.repo}@${revision}`;
  if (!isSafeRelativePath(revision)) {
    throw new HubError("bad-spec", `"${revision}" is not a usable revision; pass a branch, tag or commit hash`);
  }
  if (isOffline(env)) {
    throw new HubError(
      "offline",
      `cannot download ${label}: HF_HUB_OFFLINE is set; unset it to download (or pass --model <checkpoint dir>)`,
    );
  }
  const endpoint = (opts.endpoint ?? hubEndpoint(env)).replace(/\/+$/, "");
  let origin: string;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    throw new HubError(
      "bad-spec",
      `"${endpoint}" is not a URL; set HF_ENDPOINT to the Hub's address (e.g. https://huggingface.co)`,
    );
  }
  const cacheDir = resolve(opts.cacheDir ?? hubCacheDir(env));
  const token = opts.token === undefined ? hubToken(env) : (opts.token ?? undefined);
  const ctx: Ctx = {
    repo: spec.repo,
    revision,
    label,
    cacheDir,
    storage: join(cacheDir, repoFolderName(spec.repo)),
    endpoint,
    token,
    fetch: hubFetch(origin, token, opts.signal, opts.fetch ?? globalThis.fetch),
    signal: opts.signal,
    retries: opts.retries ?? 5,
    downloaded: 0,
  };
  try {
    opts.signal?.throwIfAborted();
    return await download(ctx, opts.onProgress ?? (() => {}));
  } catch (e) {
    throw toHubError(e, ctx);
  }
}

/**
 * A fetch that sends the token to the Hub's own origin only, identifies the client and obeys the
 * abort signal. (The token is not passed to @huggingface/hub as `accessToken`: that insists on the
 * `hf_` prefix, which tokens of other endpoints need not have.)
 */
function hubFetch(origin: string, token: string | undefined, signal: AbortSignal | undefined, base: typeof fetch) {
  const f: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : input.toString();
    const headers = new Headers(init?.headers);
    if (token && new URL(url).origin === origin) headers.set("authorization", `Bearer ${token}`);
    if (!headers.has("user-agent")) headers.set("user-agent", "dsocr (@huggingface/hub)");
    return base(url, { ...init, headers, signal: signal ?? init?.signal });
  };
  return f;
}

async function download(ctx: Ctx, report: (p: DownloadProgress) => void): Promise<DownloadResult> {
  const { repo, revision, label } = ctx;
  const common = { hubUrl: ctx.endpoint, fetch: ctx.fetch };
  let commit = revision;
  if (!isCommitHash(revision)) {
    const info = await modelInfo({ ...common, name: repo, revision, additionalFields: ["sha"] });
    commit = String(info.sha ?? "");
    if (!isCommitHash(commit)) {
      throw new HubError("http", `${ctx.endpoint} gave no commit hash for ${label}; check HF_ENDPOINT`);
    }
  }
  const entries = new Map<string, ListFileEntry>();
  for await (const e of listFiles({ ...common, repo, revision: commit })) {
    if (e.type === "file") entries.set(e.path, e);
  }
  if (!entries.has("config.json")) {
    throw new HubError(
      "not-found",
      `${label} has no config.json, so it is not a model checkpoint; pass a DeepSeek-OCR 2 repo such as ${DEFAULT_MODEL}`,
    );
  }
  const snapshot = join(ctx.storage, "snapshots", commit);
  const sizeOf = (e: ListFileEntry) => e.lfs?.size ?? e.size;
  const silent = () => {};

  // The index first: it names the shards to fetch.
  let weights: string[];
  const index = entries.get(INDEX_FILE);
  if (index) {
    await fetchFile(ctx, index, commit, silent, 0, 0);
    weights = indexShards(await readFile(join(snapshot, INDEX_FILE), "utf8"), `${label}: ${INDEX_FILE}`);
    for (const s of weights) {
      if (!entries.has(s)) {
        throw new HubError(
          "not-found",
          `${label}: ${INDEX_FILE} names ${s}, which is not in the repository; pass another revision`,
        );
      }
    }
  } else if (entries.has(SINGLE_FILE)) {
    weights = [SINGLE_FILE];
  } else {
    weights = [...entries.keys()].filter((p) => !p.includes("/") && p.endsWith(".safetensors"));
    if (weights.length !== 1) {
      throw new HubError(
        "not-found",
        `${label} has no ${INDEX_FILE} or ${SINGLE_FILE}${weights.length > 1 ? " (and several .safetensors files)" : ""}; pass a DeepSeek-OCR 2 repo such as ${DEFAULT_MODEL}`,
      );
    }
  }
  const plan = [...MODEL_FILES.filter((f) => f !== INDEX_FILE && entries.has(f)), ...weights].map(
    (p) => entries.get(p)!,
  );
  const indexBytes = index ? sizeOf(index) : 0;
  const totalBytes = indexBytes + plan.reduce((a, e) => a + sizeOf(e), 0);
  report({
    event: "plan",
    file: "",
    fileBytes: 0,
    fileSize: 0,
    bytes: indexBytes,
    totalBytes,
    files: [...(index ? [index] : []), ...plan].map((e) => ({ path: e.path, size: sizeOf(e) })),
  });
  await checkDiskSpace(ctx, plan);

  let bytes = indexBytes;
  for (const e of plan) {
    await fetchFile(ctx, e, commit, report, bytes, totalBytes);
    bytes += sizeOf(e);
  }

  // As the Python tools: record the files the repo does not have, then point the revision at the commit.
  for (const f of MODEL_FILES) {
    if (!entries.has(f)) {
      const marker = join(ctx.storage, ".no_exist", commit, f);
      await mkdir(dirname(marker), { recursive: true });
      await writeFile(marker, "");
    }
  }
  if (revision !== commit) {
    const ref = join(ctx.storage, "refs", revision);
    await mkdir(dirname(ref), { recursive: true });
    await writeFile(ref, commit);
  }
  const check = checkSnapshot(ctx.storage, commit);
  if (check.missing.length > 0) {
    throw new HubError(
      "corrupt",
      `${label}: the snapshot ${check.dir} still lacks ${check.missing.join(", ")} after the download; run the command again`,
    );
  }
  return {
    dir: snapshot,
    repo,
    revision,
    commit,
    files: [...(index ? [INDEX_FILE] : []), ...plan.map((e) => e.path)],
    downloadedBytes: ctx.downloaded,
  };
}

/** Size of a file, or -1 when there is none. */
async function sizeOrMissing(p: string): Promise<number> {
  try {
    const s = await stat(p);
    return s.isFile() ? s.size : -1;
  } catch {
    return -1;
  }
}

/** The blob name and checksum of a listed file: sha256 for LFS files, git blob sha1 for the others. */
function blobOf(ctx: Ctx, e: ListFileEntry): { etag: string; algo: "sha256" | "git-sha1"; size: number } {
  if (e.lfs && /^[0-9a-f]{64}$/.test(e.lfs.oid)) return { etag: e.lfs.oid, algo: "sha256", size: e.lfs.size };
  if (!e.lfs && e.oid && /^[0-9a-f]{40}$/.test(e.oid)) return { etag: e.oid, algo: "git-sha1", size: e.size };
  throw new HubError(
    "http",
    `${ctx.endpoint} listed ${e.path} of ${ctx.label} without a usable oid; check HF_ENDPOINT`,
  );
}

async function checkDiskSpace(ctx: Ctx, plan: ListFileEntry[]): Promise<void> {
  const blobs = join(ctx.storage, "blobs");
  await mkdir(blobs, { recursive: true });
  let need = 0;
  for (const e of plan) {
    const { etag, size } = blobOf(ctx, e);
    if ((await sizeOrMissing(join(blobs, etag))) === size) continue;
    need += size - Math.max(0, await sizeOrMissing(join(blobs, `${etag}.incomplete`)));
  }
  const fs = await statfs(blobs);
  const free = fs.bavail * fs.bsize;
  if (need > free) {
    const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
    throw new HubError(
      "disk",
      `not enough disk space in ${ctx.cacheDir}: ${ctx.label} needs ${gb(need)} more, ${gb(free)} free; free some space or pass --cache-dir (HF_HUB_CACHE) on another disk`,
    );
  }
}

/**
 * Makes `snapshots/{commit}/{path}` a relative symlink to the blob (a copy where symlinks fail),
 * as huggingface_hub's `_create_symlink`.
 */
async function linkPointer(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  try {
    await symlink(relative(dirname(pointer), blob), pointer);
  } catch {
    await copyFile(blob, pointer);
  }
}

async function fetchFile(
  ctx: Ctx,
  e: ListFileEntry,
  commit: string,
  report: (p: DownloadProgress) => void,
  bytesBefore: number,
  totalBytes: number,
): Promise<void> {
  if (!isSafeRelativePath(e.path)) {
    throw new HubError(
      "http",
      `${ctx.endpoint} listed an unsafe file name ${JSON.stringify(e.path)}; check HF_ENDPOINT`,
    );
  }
  ctx.file = e.path;
  const { etag, algo, size } = blobOf(ctx, e);
  const pointer = join(ctx.storage, "snapshots", commit, e.path);
  const blob = join(ctx.storage, "blobs", etag);
  const step = (event: DownloadProgress["event"], fileBytes: number) =>
    report({ event, file: e.path, fileBytes, fileSize: size, bytes: bytesBefore + fileBytes, totalBytes });

  if ((await sizeOrMissing(pointer)) === size) {
    step("cached", size);
    return;
  }
  if ((await sizeOrMissing(blob)) === size) {
    await linkPointer(blob, pointer);
    step("cached", size);
    return;
  }
  await mkdir(dirname(blob), { recursive: true });
  const unlock = await lockBlob(ctx, etag, e.path);
  try {
    await fetchBlob(ctx, e.path, commit, blob, size, etag, algo, step);
    await linkPointer(blob, pointer);
  } finally {
    await unlock();
  }
  step("done", size);
}

/** A pid lock for a blob, so two processes do not append to the same `.incomplete` file. */
async function lockBlob(ctx: Ctx, etag: string, file: string): Promise<() => Promise<void>> {
  const lock = join(ctx.cacheDir, ".locks", repoFolderName(ctx.repo), `${etag}.dsocr.lock`);
  await mkdir(dirname(lock), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: "wx" });
      return () => rm(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number((await readFile(lock, "utf8").catch(() => "")).trim());
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      throw new HubError(
        "busy",
        `${file} of ${ctx.label} is being downloaded by process ${pid}; wait for it to finish (or delete ${lock} if that process is not a download)`,
      );
    }
    await rm(lock, { force: true }); // left by a process that is gone
  }
  throw new HubError("busy", `cannot take the lock ${lock}; delete it and run the command again`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function newHash(algo: "sha256" | "git-sha1", size: number): Hash {
  if (algo === "sha256") return createHash("sha256");
  return createHash("sha1").update(`blob ${size}\0`);
}

/** Bytes of the partial file so far and their running checksum. */
interface TransferState {
  offset: number;
  algo: "sha256" | "git-sha1";
  hash: Hash;
}

/** Downloads (or resumes) `blobs/{etag}.incomplete`, verifies it and renames it to `blobs/{etag}`. */
async function fetchBlob(
  ctx: Ctx,
  file: string,
  commit: string,
  blob: string,
  size: number,
  etag: string,
  algo: "sha256" | "git-sha1",
  step: (event: DownloadProgress["event"], fileBytes: number) => void,
): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  let offset = Math.max(0, await sizeOrMissing(incomplete));
  if (offset > size) {
    await rm(incomplete, { force: true });
    offset = 0;
  }
  const state: TransferState = { offset, algo, hash: newHash(algo, size) };
  if (offset > 0) {
    for await (const chunk of createReadStream(incomplete, { end: offset - 1 })) state.hash.update(chunk as Buffer);
    step("resume", offset);
  } else {
    await writeFile(incomplete, "");
  }
  let failures = 0;
  while (state.offset < size) {
    const before = state.offset;
    try {
      await transfer(ctx, file, commit, incomplete, size, state, step);
    } catch (err) {
      ctx.signal?.throwIfAborted();
      if (state.offset > before) failures = 0; // progress was made: count from scratch
      if (!isTransient(err) || ++failures > ctx.retries) throw err;
      await sleep(Math.min(500 * 2 ** failures, 10_000), undefined, { signal: ctx.signal });
    }
  }
  const digest = state.hash.digest("hex");
  if (digest !== etag) {
    await rm(incomplete, { force: true });
    throw new HubError(
      "corrupt",
      `${file} of ${ctx.label}: the downloaded data does not match its ${algo === "sha256" ? "sha256" : "git"} checksum; run the command again`,
    );
  }
  await rename(incomplete, blob);
}

/** One request for the rest of the file, appended to the partial file (a 200 to a Range request restarts it). */
async function transfer(
  ctx: Ctx,
  file: string,
  commit: string,
  incomplete: string,
  size: number,
  state: TransferState,
  step: (event: DownloadProgress["event"], fileBytes: number) => void,
): Promise<void> {
  // Remember the status of the transfer request (not of downloadFile's `Range: bytes=0-0` probe).
  let status = 0;
  let contentRange: string | null = null;
  const observe: typeof fetch = async (input, init) => {
    const res = await ctx.fetch(input, init);
    if (new Headers(init?.headers).get("range") !== "bytes=0-0") {
      status = res.status;
      contentRange = res.headers.get("content-range");
    }
    return res;
  };
  const remote = await downloadFile({
    repo: ctx.repo,
    path: file,
    revision: commit,
    hubUrl: ctx.endpoint,
    fetch: observe,
    xet: false,
  });
  if (!remote) {
    throw new HubError(
      "not-found",
      `${file} is listed in ${ctx.label} but the Hub has no such file (404); try again later`,
    );
  }
  if (remote.size !== size) {
    throw new HubError(
      "corrupt",
      `${file} of ${ctx.label}: the Hub serves ${remote.size} bytes but lists ${size}; try again later`,
    );
  }
  const fh = await open(incomplete, "r+");
  try {
    let first = true;
    for await (const chunk of remote.slice(state.offset).stream()) {
      const bytes = chunk as Uint8Array;
      if (first) {
        first = false;
        if (state.offset > 0 && status === 200) {
          // The server ignored the Range header and sends the whole file: start over with it.
          state.offset = 0;
          state.hash = newHash(state.algo, size);
          await fh.truncate(0);
        } else if (state.offset > 0 && !String(contentRange).startsWith(`bytes ${state.offset}-`)) {
          throw new HubError(
            "http",
            `${file} of ${ctx.label}: the server answered a resume request with HTTP ${status} (${contentRange ?? "no Content-Range"}); delete ${incomplete} and run again`,
          );
        }
      }
      if (state.offset + bytes.length > size) {
        await fh.truncate(0);
        state.offset = 0;
        throw new HubError(
          "corrupt",
          `${file} of ${ctx.label}: the server sent more than ${size} bytes; run the command again`,
        );
      }
      await fh.write(bytes, 0, bytes.length, state.offset);
      state.hash.update(bytes);
      state.offset += bytes.length;
      ctx.downloaded += bytes.length;
      step("data", state.offset);
    }
  } finally {
    await fh.close();
  }
}

/** Whether a failed transfer is worth resuming: a broken connection or a server error (5xx, 429). */
function isTransient(err: unknown): boolean {
  if (err instanceof HubError) return false;
  if (err instanceof HubApiError) return err.statusCode >= 500 || err.statusCode === 429;
  // WebBlob.stream() aborts its stream with the message of the error (a string).
  const status = typeof err === "string" ? /status (\d{3})/.exec(err) : null;
  if (status) return Number(status[1]) >= 500 || status[1] === "429";
  return networkCause(err) !== undefined;
}

/** The error code of a network failure: fetch's TypeError carries it in `cause`. */
function networkCause(err: unknown): string | undefined {
  if (typeof err === "string") return err;
  if (!(err instanceof Error)) return undefined;
  const cause = err.cause as { code?: string; message?: string } | undefined;
  if (err instanceof TypeError && (err.message === "fetch failed" || err.message === "terminated")) {
    return cause?.code ?? cause?.message ?? err.message;
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code && /^(E(CONN|HOST|NET|ADDR|PIPE|TIMEDOUT|AI_)|ENOTFOUND|UND_ERR)/.test(code)) return code;
  return undefined;
}

/** Turns any failure into a one-line HubError saying what to do. */
function toHubError(err: unknown, ctx: Ctx): HubError {
  if (err instanceof HubError) return err;
  const { label, endpoint } = ctx;
  const what = ctx.file ? `${ctx.file} of ${label}` : label;
  if (ctx.signal?.aborted || (err instanceof Error && err.name === "AbortError")) {
    return new HubError("aborted", `download of ${label} interrupted; run the same command again to resume`, {
      cause: err,
    });
  }
  let status = err instanceof HubApiError ? err.statusCode : undefined;
  if (status === undefined && typeof err === "string") {
    const m = /status (\d{3})/.exec(err);
    if (m) status = Number(m[1]);
  }
  if (status === 401) {
    return new HubError(
      "auth",
      ctx.token
        ? `${endpoint} refused the access token for ${what} (HTTP 401); check the repo id and that HF_TOKEN (or the token file) holds a valid token that can read it`
        : `${endpoint} refused ${what} (HTTP 401): the repo does not exist or is private or gated; check the repo id, or set HF_TOKEN to an access token that can read it (${endpoint}/settings/tokens)`,
      { cause: err },
    );
  }
  if (status === 403) {
    return new HubError(
      "auth",
      `${endpoint} denied access to ${what} (HTTP 403): the model is gated or the token may not read it; accept its terms at ${endpoint}/${ctx.repo} and set HF_TOKEN to a token of that account`,
      { cause: err },
    );
  }
  if (status === 404) {
    return new HubError(
      "not-found",
      `${what} was not found at ${endpoint} (HTTP 404); check the repo id and --revision (a private repo also needs HF_TOKEN)`,
      { cause: err },
    );
  }
  if (status !== undefined) {
    return new HubError("http", `${endpoint} answered HTTP ${status} for ${what}; try again later`, { cause: err });
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new HubError(
      "disk",
      `no space left on the disk of ${ctx.cacheDir} while downloading ${what}; free some space (or pass --cache-dir on another disk) and run again to resume`,
      { cause: err },
    );
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    const path = (err as NodeJS.ErrnoException).path ?? ctx.cacheDir;
    return new HubError("disk", `cannot write ${path} (${code}); pass --cache-dir <writable dir> or set HF_HUB_CACHE`, {
      cause: err,
    });
  }
  const net = networkCause(err);
  if (net !== undefined) {
    return new HubError(
      "network",
      `cannot download ${what} from ${endpoint} (${net.split("\n")[0]}); check the network connection (or HF_ENDPOINT) and run again to resume, or pass --model <checkpoint dir>`,
      { cause: err },
    );
  }
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0];
  return new HubError("http", `download of ${what} failed: ${message}`, { cause: err });
}
