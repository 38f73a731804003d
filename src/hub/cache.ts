/**
 * The Hugging Face cache as the Python tools (huggingface_hub, transformers) lay it out, so that a
 * model downloaded by either side is reused by the other:
 *
 * ```text
 * <cache>/models--{org}--{name}/
 *   refs/{revision}                 file holding the commit hash the revision ("main") points to
 *   snapshots/{commit}/{file}       relative symlinks into blobs/ (copies where symlinks fail)
 *   blobs/{etag}                    file contents, named by sha256 (LFS files) or git blob sha1
 *   blobs/{etag}.incomplete         a partial download, resumed with an HTTP Range request
 *   .no_exist/{commit}/{file}       empty marker: the file does not exist at that commit
 * ```
 *
 * The cache directory and the other settings come from the same environment variables as in
 * huggingface_hub's `constants.py` ({@link hubCacheDir}, {@link hfHome}, {@link isOffline}).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

/** Environment variables, `process.env` by default. */
export type Env = Readonly<Record<string, string | undefined>>;

/** The model every command uses when `--model` is not given. */
export const DEFAULT_MODEL = "deepseek-ai/DeepSeek-OCR-2";
/** The revision used when none is given. */
export const DEFAULT_REVISION = "main";
/** The Hub, unless `HF_ENDPOINT` says otherwise. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** Index of a sharded checkpoint; its `weight_map` names the shard of every tensor. */
export const INDEX_FILE = "model.safetensors.index.json";
/** Weights of an unsharded checkpoint. */
export const SINGLE_FILE = "model.safetensors";

/**
 * The files of a repository that `dsocr download` fetches, besides the weights: the model config,
 * the safetensors index, and the tokenizer and processor settings. Everything else in a repository
 * (Python code, README, images) is skipped. The weights are the shards named by the index's
 * `weight_map`, else `model.safetensors`, else the one `*.safetensors` file at the top level
 * (the rule of `openCheckpoint`).
 */
export const MODEL_FILES: readonly string[] = [
  "config.json",
  INDEX_FILE,
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "processor_config.json",
];

/**
 * Tokenizer files a snapshot must hold to count as complete, unless a `.no_exist/{commit}/` marker
 * records that the repository has no such file (the engine then uses its built-in tokenizer or
 * default tokenizer settings).
 */
export const TOKENIZER_FILES: readonly string[] = ["tokenizer.json", "tokenizer_config.json"];

const TRUE_VALUES = new Set(["1", "ON", "YES", "TRUE"]);
const isTrue = (v: string | undefined) => v !== undefined && TRUE_VALUES.has(v.toUpperCase());
/** An unset or empty variable counts as unset. */
const get = (env: Env, name: string) => (env[name] ? env[name] : undefined);

/** `~` and `$VAR` / `${VAR}` expansion as Python's `os.path.expanduser(os.path.expandvars(...))`. */
function expandPath(p: string, env: Env): string {
  p = p.replace(/\$(\w+)|\$\{([^}]+)\}/g, (m, a: string | undefined, b: string | undefined) => env[a ?? b ?? ""] ?? m);
  if (p === "~" || p.startsWith("~/")) p = join(get(env, "HOME") ?? homedir(), p.slice(1));
  return p;
}

/**
 * The Hugging Face home directory: `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else
 * `~/.cache/huggingface` (as huggingface_hub). It holds the `hub/` cache and the `token` file.
 */
export function hfHome(env: Env = process.env): string {
  const xdg = get(env, "XDG_CACHE_HOME") ?? join(get(env, "HOME") ?? homedir(), ".cache");
  const home = get(env, "HF_HOME") ?? join(xdg, "huggingface");
  return expandPath(home, env);
}

/**
 * The Hugging Face hub cache directory, as huggingface_hub finds it: `HF_HUB_CACHE`, else the
 * legacy `HUGGINGFACE_HUB_CACHE`, else `{@link hfHome}/hub` (by default `~/.cache/huggingface/hub`).
 */
export function hubCacheDir(env: Env = process.env): string {
  return expandPath(get(env, "HF_HUB_CACHE") ?? get(env, "HUGGINGFACE_HUB_CACHE") ?? join(hfHome(env), "hub"), env);
}

/** Whether network access is off: `HF_HUB_OFFLINE` (or the legacy `TRANSFORMERS_OFFLINE`) is 1/ON/YES/TRUE. */
export function isOffline(env: Env = process.env): boolean {
  return isTrue(get(env, "HF_HUB_OFFLINE") ?? get(env, "TRANSFORMERS_OFFLINE"));
}

/** The Hub's base URL: `HF_ENDPOINT` without a trailing slash, else https://huggingface.co. */
export function hubEndpoint(env: Env = process.env): string {
  return (get(env, "HF_ENDPOINT") ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

/**
 * The access token to send, as huggingface_hub finds it: `HF_TOKEN`, else the legacy
 * `HUGGING_FACE_HUB_TOKEN`, else `HF_HUB_TOKEN`, else the file `HF_TOKEN_PATH` (default
 * `{@link hfHome}/token`, written by `hf auth login`); none when `HF_HUB_DISABLE_IMPLICIT_TOKEN`
 * is set. Whitespace and line breaks are removed.
 *
 * @returns the token, or undefined when there is none (an unreadable token file counts as none)
 */
export function hubToken(env: Env = process.env): string | undefined {
  if (isTrue(get(env, "HF_HUB_DISABLE_IMPLICIT_TOKEN"))) return undefined;
  const clean = (t: string | undefined) => t?.replace(/[\r\n]/g, "").trim() || undefined;
  const fromEnv = clean(get(env, "HF_TOKEN") ?? get(env, "HUGGING_FACE_HUB_TOKEN") ?? get(env, "HF_HUB_TOKEN"));
  if (fromEnv) return fromEnv;
  const file = expandPath(get(env, "HF_TOKEN_PATH") ?? join(hfHome(env), "token"), env);
  try {
    return clean(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** A repository id with the revision to use. */
export interface RepoSpec {
  /** `org/name`. */
  repo: string;
  /** Branch, tag or commit hash; undefined when the spec names none. */
  revision?: string;
}

// One part of a repo id as the Hub accepts it: letters, digits, "-", "_", "."; no "--" or "..";
// "-" and "." neither first nor last; at most 96 characters for the whole id.
const PART = "[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?";
const REPO_SPEC = new RegExp(`^(${PART})/(${PART})(?:@(\\S+))?$`);

/**
 * Parses `org/name` or `org/name@revision` (a branch, tag, `refs/pr/N` or commit hash).
 *
 * @returns the parts, or undefined when `spec` is not of that form (a path such as `./model` or
 *   `/data/model` never is)
 */
export function parseRepoSpec(spec: string): RepoSpec | undefined {
  const m = REPO_SPEC.exec(spec);
  if (!m) return undefined;
  const repo = `${m[1]}/${m[2]}`;
  if (repo.length > 96 || repo.includes("--") || repo.includes("..")) return undefined;
  return m[3] === undefined ? { repo } : { repo, revision: m[3] };
}

/** Whether `revision` is a full commit hash (40 lowercase hex digits, as huggingface_hub's REGEX_COMMIT_HASH). */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** The folder of a model repository in the cache: `models--{org}--{name}` (huggingface_hub's `repo_folder_name`). */
export function repoFolderName(repo: string): string {
  return ["models", ...repo.split("/")].join("--");
}

/**
 * The commit a revision points to in a repository's cache folder: the revision itself when it is a
 * commit hash, else the content of `refs/{revision}`.
 *
 * @returns the commit hash, or undefined when the cache has no such ref
 */
export function cachedCommit(storage: string, revision: string): string | undefined {
  if (isCommitHash(revision)) return revision;
  try {
    const commit = readFileSync(join(storage, "refs", revision), "utf8").trim();
    return commit || undefined;
  } catch {
    return undefined;
  }
}

/** What a snapshot folder holds of a checkpoint. */
export interface SnapshotCheck {
  /** `snapshots/{commit}`. */
  dir: string;
  /** Files the engine needs that are missing (empty when the snapshot is complete). */
  missing: string[];
}

/** A regular file (after following symlinks, so a link to a missing blob does not count). */
function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * A safe relative file name from a repository (no absolute path, no `..`, no backslash), as the
 * shard names of an index must be before they are joined onto a directory.
 */
export function isSafeRelativePath(p: string): boolean {
  return (
    p.length > 0 &&
    !isAbsolute(p) &&
    !p.includes("\\") &&
    !p.includes("\0") &&
    p.split("/").every((s) => s !== "" && s !== "." && s !== "..")
  );
}

/**
 * The shard files named by a `model.safetensors.index.json` text.
 *
 * @throws Error when the text is not JSON with a `weight_map` object of safe relative file names
 */
export function indexShards(text: string, source: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message}); delete it and download the model again`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new Error(`${source}: no "weight_map" object; delete it and download the model again`);
  }
  const shards = [...new Set(Object.values(map))].sort();
  for (const s of shards) {
    if (typeof s !== "string" || !isSafeRelativePath(s)) {
      throw new Error(`${source}: bad shard name ${JSON.stringify(s)} in "weight_map"; use a valid checkpoint`);
    }
  }
  return shards as string[];
}

/**
 * Checks a snapshot folder of the cache: it is complete when it holds `config.json`, each of
 * {@link TOKENIZER_FILES} (or a `.no_exist/{commit}/` marker for it), and the weights: every shard
 * named by `model.safetensors.index.json`, else `model.safetensors`, else exactly one
 * `*.safetensors` file. Symlinks count only when their blob exists.
 *
 * @param storage the repository's cache folder (`models--{org}--{name}`)
 * @param commit the snapshot's commit hash
 * @returns the snapshot directory and the list of missing files (never throws; a corrupt index is
 *   reported as missing)
 */
export function checkSnapshot(storage: string, commit: string): SnapshotCheck {
  const dir = join(storage, "snapshots", commit);
  const missing: string[] = [];
  if (!existsSync(dir)) return { dir, missing: ["config.json", "weights"] };
  if (!isFile(join(dir, "config.json"))) missing.push("config.json");
  for (const f of TOKENIZER_FILES) {
    if (!isFile(join(dir, f)) && !existsSync(join(storage, ".no_exist", commit, f))) missing.push(f);
  }
  const index = join(dir, INDEX_FILE);
  if (isFile(index)) {
    try {
      for (const s of indexShards(readFileSync(index, "utf8"), index)) {
        if (!isFile(join(dir, s))) missing.push(s);
      }
    } catch {
      missing.push(`${INDEX_FILE} (unreadable)`);
    }
  } else if (!isFile(join(dir, SINGLE_FILE))) {
    const found = readdirSync(dir).filter((f) => f.endsWith(".safetensors") && isFile(join(dir, f)));
    if (found.length !== 1) missing.push(SINGLE_FILE);
  }
  return { dir, missing };
}
