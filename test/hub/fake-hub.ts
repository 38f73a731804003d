/**
 * A local imitation of the Hugging Face Hub endpoints that @huggingface/hub and dsocr call, on
 * 127.0.0.1 with random ports: `GET /api/models/{repo}/revision/{rev}` (model info with `sha`),
 * `GET /api/models/{repo}/tree/{rev}` (files with size, git oid and LFS sha256), and
 * `GET /{repo}/resolve/{rev}/{path}` (ETag, X-Linked-Etag/-Size, X-Repo-Commit, Range requests;
 * LFS files optionally redirected to a second "CDN" origin, as the real Hub does). Every request
 * is logged with its headers; faults can be switched on per test.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { readSafetensorsHeader } from "../../src/checkpoint/safetensors.ts";
import { FIXTURES } from "../helpers/paths.ts";

/** A repository served by the fake hub. */
export interface FakeRepo {
  repo: string;
  commit: string;
  /** Path -> content; paths with a "/" are in subfolders. */
  files: Map<string, Buffer>;
}

/** One logged request. */
export interface LoggedRequest {
  /** "hub" or "cdn". */
  origin: "hub" | "cdn";
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** Whether a file is stored with LFS (as the Hub does for weights). */
export const isLfs = (path: string) => path.endsWith(".safetensors");

/** git blob sha1 of a content (the oid and ETag of a non-LFS file). */
export const gitOid = (b: Buffer) =>
  createHash("sha1")
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest("hex");
export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
/** The blob name of a file in the cache. */
export const etagOf = (path: string, b: Buffer) => (isLfs(path) ? sha256(b) : gitOid(b));

/**
 * A repository like deepseek-ai/DeepSeek-OCR-2 made from the tiny-v2 fixture: config, tokenizer
 * and processor settings (no tokenizer.json: the engine builds it), one shard with an index,
 * plus files `dsocr download` must skip (README, Python code, an image in a subfolder, a stray
 * .safetensors the index does not name).
 */
export function tinyRepo(repo = "deepseek-ai/DeepSeek-OCR-2", commit = "1".repeat(40)): FakeRepo {
  const src = join(FIXTURES, "models", "tiny-v2");
  const shard = "model-00001-of-000001.safetensors";
  const weights = readFileSync(join(src, "model.safetensors"));
  const header = readSafetensorsHeader(join(src, "model.safetensors"));
  const index = {
    metadata: { total_size: weights.length },
    weight_map: Object.fromEntries(header.tensors.map((t) => [t.name, shard])),
  };
  const files = new Map<string, Buffer>();
  for (const f of ["config.json", "tokenizer_config.json", "special_tokens_map.json", "processor_config.json"]) {
    files.set(f, readFileSync(join(src, f)));
  }
  files.set(shard, weights);
  files.set("model.safetensors.index.json", Buffer.from(JSON.stringify(index, null, 2)));
  files.set("README.md", Buffer.from("# tiny\n"));
  files.set("modeling_deepseekocr2.py", Buffer.from("# code\n"));
  files.set("assets/fig1.png", Buffer.from("not really a png"));
  files.set("stray.safetensors", Buffer.alloc(1000, 7));
  return { repo, commit, files };
}

/** Fault switches of the fake hub. */
export interface FakeHubFaults {
  /** Requests to the hub origin need `Authorization: Bearer <token>` (else 401). */
  token?: string;
  /** Answer 403 (gated) to everything on the hub origin. */
  gated?: boolean;
  /** Answer Range requests that do not start at 0 (resumes) with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Redirect LFS resolve requests to the CDN origin. */
  cdnRedirect?: boolean;
  /** Cut the connection after this many body bytes of a file transfer, this many times. */
  dropAfter?: { path: string; bytes: number; times: number };
  /** Serve this content instead of the real one for a path (the listing keeps the real oid). */
  corrupt?: { path: string; content: Buffer };
}

/** The fake hub: start it, point `endpoint` at `url`, read `requests`, then `close()`. */
export class FakeHub {
  readonly requests: LoggedRequest[] = [];
  faults: FakeHubFaults = {};
  private servers: Server[] = [];
  url = "";
  cdnUrl = "";

  constructor(readonly repos: FakeRepo[]) {}

  /** Starts the hub and the CDN servers on random ports of 127.0.0.1. */
  async start(): Promise<this> {
    const listen = (origin: "hub" | "cdn") =>
      new Promise<string>((resolve) => {
        const server = createServer((req, res) => this.handle(origin, req, res));
        this.servers.push(server);
        server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      });
    this.url = await listen("hub");
    this.cdnUrl = await listen("cdn");
    return this;
  }

  /** Stops both servers. */
  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections();
            s.close(() => resolve());
          }),
      ),
    );
  }

  /** Logged requests of one origin whose URL contains `part`. */
  requestsFor(part: string, origin?: "hub" | "cdn"): LoggedRequest[] {
    return this.requests.filter((r) => r.url.includes(part) && (!origin || r.origin === origin));
  }

  private handle(origin: "hub" | "cdn", req: IncomingMessage, res: ServerResponse) {
    this.requests.push({ origin, method: req.method ?? "GET", url: req.url ?? "", headers: req.headers });
    const url = new URL(req.url ?? "/", "http://x");
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    if (origin === "cdn") {
      const m = /^\/cdn\/([^/]+)\/(.+)$/.exec(url.pathname);
      const repo = m && this.repos.find((r) => r.repo === decodeURIComponent(m[1]));
      const path = m ? decodeURIComponent(m[2]) : "";
      if (!repo?.files.has(path)) return json(404, { error: "not found" });
      return this.sendFile(req, res, repo, path, {});
    }
    if (this.faults.token && req.headers.authorization !== `Bearer ${this.faults.token}`) {
      return json(401, { error: "Invalid credentials in Authorization header" }, { "x-error-code": "RepoNotFound" });
    }
    if (this.faults.gated) {
      return json(403, { error: "Access to model is restricted." }, { "x-error-code": "GatedRepo" });
    }
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const repo = this.repos.find((r) => r.repo === m![1]);
      if (!repo) return json(404, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
      const rev = decodeURIComponent(m[3]);
      if (rev !== "main" && rev !== repo.commit) {
        return json(404, { error: `Invalid rev id: ${rev}` }, { "x-error-code": "RevisionNotFound" });
      }
      if (m[2] === "revision") {
        return json(200, {
          _id: "0123",
          id: repo.repo,
          sha: repo.commit,
          private: false,
          gated: false,
          downloads: 0,
          likes: 0,
          lastModified: "2025-01-01T00:00:00.000Z",
          pipeline_tag: "image-text-to-text",
        });
      }
      const recursive = url.searchParams.get("recursive") === "true";
      const entries: unknown[] = [];
      const dirs = new Set<string>();
      for (const [path, b] of repo.files) {
        if (!recursive && path.includes("/")) {
          dirs.add(path.split("/")[0]);
          continue;
        }
        entries.push({
          type: "file",
          oid: isLfs(path)
            ? gitOid(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(b)}\n`))
            : gitOid(b),
          size: b.length,
          path,
          ...(isLfs(path) ? { lfs: { oid: sha256(b), size: b.length, pointerSize: 134 } } : {}),
        });
      }
      for (const d of dirs) entries.push({ type: "directory", oid: "d".repeat(40), size: 0, path: d });
      return json(200, entries);
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const repo = this.repos.find((r) => r.repo === m![1]);
      if (!repo) return json(404, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
      const rev = decodeURIComponent(m[2]);
      if (rev !== "main" && rev !== repo.commit)
        return json(404, { error: "Invalid rev id" }, { "x-error-code": "RevisionNotFound" });
      const path = decodeURIComponent(m[3]);
      const b = repo.files.get(path);
      if (!b) return json(404, { error: "Entry not found" }, { "x-error-code": "EntryNotFound" });
      const headers: Record<string, string> = { "x-repo-commit": repo.commit };
      if (isLfs(path)) {
        headers["x-linked-etag"] = `"${sha256(b)}"`;
        headers["x-linked-size"] = String(b.length);
        if (this.faults.cdnRedirect) {
          res.writeHead(302, {
            ...headers,
            etag: `"${gitOid(b)}"`,
            location: `${this.cdnUrl}/cdn/${encodeURIComponent(repo.repo)}/${encodeURIComponent(path)}?X-Amz-Signature=abc`,
          });
          return void res.end();
        }
      }
      return this.sendFile(req, res, repo, path, headers);
    }
    json(404, { error: "no such endpoint" });
  }

  private sendFile(
    req: IncomingMessage,
    res: ServerResponse,
    repo: FakeRepo,
    path: string,
    extra: Record<string, string>,
  ): void {
    let b = repo.files.get(path)!;
    const etag = etagOf(path, b);
    if (this.faults.corrupt?.path === path) b = this.faults.corrupt.content;
    const headers: Record<string, string> = {
      ...extra,
      etag: `"${etag}"`,
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = b.length - 1;
    let status = 200;
    if (range && !(this.faults.ignoreRange && range[1] !== "0")) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), b.length - 1) : b.length - 1;
      if (start >= b.length) {
        res.writeHead(416, { "content-range": `bytes */${b.length}` });
        return void res.end();
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${b.length}`;
    }
    const body = b.subarray(start, end + 1);
    headers["content-length"] = String(body.length);
    res.writeHead(status, headers);
    if (req.method === "HEAD") return void res.end();
    const drop = this.faults.dropAfter;
    if (drop && drop.path === path && drop.times > 0 && body.length > drop.bytes && req.headers.range !== "bytes=0-0") {
      drop.times--;
      res.write(body.subarray(0, drop.bytes), () => res.destroy());
      return;
    }
    res.end(body);
  }
}
