/** The error of the hub module: a one-line message that says what to do. */

/**
 * Why a hub operation failed.
 * - `not-cached`: the model is not (completely) in the cache and may not be downloaded.
 * - `offline`: a download was asked for while `HF_HUB_OFFLINE` is set.
 * - `bad-spec`: `--model` is neither a directory nor a repo id.
 * - `auth`: the Hub answered 401 or 403 (missing, refused or insufficient token; gated model).
 * - `not-found`: the Hub answered 404 (repo, revision or file), or the repo lacks a needed file.
 * - `http`: another HTTP error status.
 * - `network`: the Hub could not be reached, or the connection broke too often.
 * - `disk`: not enough space, or the cache is not writable.
 * - `corrupt`: downloaded data does not match its size or checksum.
 * - `busy`: another process is downloading the same file.
 * - `aborted`: the download was interrupted (the partial file is kept for a resume).
 */
export type HubErrorCode =
  | "not-cached"
  | "offline"
  | "bad-spec"
  | "auth"
  | "not-found"
  | "http"
  | "network"
  | "disk"
  | "corrupt"
  | "busy"
  | "aborted";

/** Error thrown by `resolveModel` and `downloadModel`; the message is one line and says what to run or fix. */
export class HubError extends Error {
  override readonly name = "HubError";
  constructor(
    readonly code: HubErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
