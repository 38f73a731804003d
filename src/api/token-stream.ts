/**
 * A push-to-pull bridge: the decode loop pushes text pieces, a `for await` loop pulls them.
 */
import type { ExtractResult } from "./types.ts";

/**
 * The token stream of one page ({@link DeepSeekOCR.stream}): iterate it for the text as it is
 * generated (one piece per token, empty pieces skipped); `result` resolves with the whole page
 * once generation ends. Iterating is optional; the pieces are buffered until read.
 */
export class TokenStream implements AsyncIterable<string> {
  private readonly pieces: string[] = [];
  private done = false;
  private error: unknown = undefined;
  private failed = false;
  private wake: (() => void) | null = null;
  /** The page's result; rejects like {@link DeepSeekOCR.extract}. */
  readonly result: Promise<ExtractResult>;

  /** @param run starts the page with a callback receiving each text piece. */
  constructor(run: (onText: (text: string) => void) => Promise<ExtractResult>) {
    this.result = run((text) => {
      if (text) this.pieces.push(text);
      this.notify();
    });
    this.result.then(
      () => {
        this.done = true;
        this.notify();
      },
      (e) => {
        this.failed = true;
        this.error = e;
        this.done = true;
        this.notify();
      },
    );
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Yields the text pieces in order. @throws the page's error (e.g. the abort reason) after the pieces before it */
  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    let i = 0;
    for (;;) {
      while (i < this.pieces.length) yield this.pieces[i++];
      if (this.done) {
        if (this.failed) throw this.error;
        return;
      }
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
}
