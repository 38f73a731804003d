/**
 * Lazy, process-wide PDFium (WebAssembly) instance, from `@embedpdf/pdfium`.
 *
 * The WASM binary (about 4.6 MB) is read from the package's `dist/pdfium.wasm` and compiled
 * once per process, on first use. PDFium is single-threaded and every call made through this
 * module is synchronous, so the one instance can serve any number of open documents.
 *
 * If PDFium aborts (a `WebAssembly.RuntimeError`, which leaves the instance unusable), call
 * {@link resetPdfium}; the next {@link getPdfium} builds a fresh instance.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { init, type WrappedPdfiumModule } from "@embedpdf/pdfium";

/**
 * The runtime parts of the Emscripten module that are used here. `@embedpdf/pdfium`'s typings
 * refer to `@types/emscripten`, which is not installed, so they are restated.
 */
export interface PdfiumRuntime {
  /** The WASM linear memory as bytes. Re-read after every call that may allocate (memory growth replaces it). */
  HEAPU8: Uint8Array;
  /** The WASM linear memory as float32 (same growth caveat). */
  HEAPF32: Float32Array;
  /** `malloc`/`free` of the WASM heap. `malloc` returns 0 on failure. */
  wasmExports: { malloc(size: number): number; free(ptr: number): void };
}

/** The wrapped PDFium functions plus the runtime helpers. */
export type Pdfium = WrappedPdfiumModule & { rt: PdfiumRuntime };

let instance: Promise<Pdfium> | null = null;

/** Absolute path of `pdfium.wasm` inside the installed `@embedpdf/pdfium` package. */
export function pdfiumWasmPath(): string {
  const require = createRequire(import.meta.url);
  // The package's "require" export resolves to dist/index.cjs; the binary sits beside it.
  return join(dirname(require.resolve("@embedpdf/pdfium")), "pdfium.wasm");
}

async function load(): Promise<Pdfium> {
  const bytes = await readFile(pdfiumWasmPath());
  const wasmBinary = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  // print/printErr: keep Emscripten's diagnostics (e.g. failed memory growth) off the terminal;
  // failures surface through return values and become PdfErrors.
  const overrides = { wasmBinary, print: () => {}, printErr: () => {} };
  const mod = await init(overrides as unknown as Parameters<typeof init>[0]);
  // FPDF_InitLibraryWithConfig with the default config (no user font paths, no V8).
  mod.PDFiumExt_Init();
  return Object.assign(mod, { rt: mod.pdfium as unknown as PdfiumRuntime });
}

/**
 * The process-wide PDFium instance, created on the first call (reads and compiles the WASM,
 * about 50 ms). Concurrent first calls share one initialisation.
 * @throws Error when the WASM file cannot be read or instantiated (the failure is not cached:
 *   a later call tries again).
 */
export function getPdfium(): Promise<Pdfium> {
  if (!instance) {
    const p = load();
    instance = p;
    p.catch(() => {
      if (instance === p) instance = null;
    });
  }
  return instance;
}

/**
 * Forgets the current instance (after a WASM abort). Documents opened on the old instance must
 * not be used any more; the next {@link getPdfium} creates a new one.
 */
export function resetPdfium(): void {
  instance = null;
}
