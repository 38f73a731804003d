/**
 * What a job reports while it runs (documents opened, pages done, errors, the end), consumed by
 * the CLI's progress bar or JSON-lines stream (src/cli/progress.ts) and by library callers.
 */

/** One progress event. `input` is the path as given; `page` is 1-based; seconds are wall time. */
export type JobEvent =
  | { event: "start"; documents: number }
  | { event: "document"; input: string; name: string; page_count: number; pages: number; resumed: number }
  | {
      event: "page";
      input: string;
      page: number;
      tokens: number;
      seconds: number;
      finished: boolean;
      retried: boolean;
    }
  | { event: "page_error"; input: string; page: number; error: string }
  | { event: "retry"; input: string; page: number; reason: string }
  | { event: "document_done"; input: string; outputs: string[]; complete: boolean; failed_pages: number }
  | { event: "error"; input: string; error: string }
  | { event: "warning"; input: string; message: string }
  | {
      event: "end";
      documents: number;
      failed: number;
      pages: number;
      failed_pages: number;
      unfinished_pages: number;
      seconds: number;
      interrupted: boolean;
    };

/** Receives a job's events and its generated-token ticks. */
export interface ProgressSink {
  emit(e: JobEvent): void;
  /** Called once per generated token (for a tokens/s figure). */
  token(): void;
  /** Ends the display (the bar is removed or left complete). */
  stop(): void;
}

/** A sink that ignores everything. */
export const SILENT: ProgressSink = { emit() {}, token() {}, stop() {} };
