/**
 * The CLI's input arguments to a list of files: each argument is a file, a directory (every
 * supported file inside it, recursively) or a glob pattern (`**`, `*.pdf`, `{a,b}`; matched with
 * tinyglobby). Hidden files and folders (names starting with ".") are skipped in directories and
 * globs. Arguments that name nothing become errors instead of stopping the whole run.
 *
 * @module
 */

import { realpath, stat } from "node:fs/promises";
import { extname, isAbsolute, join, resolve } from "node:path";
import { glob, isDynamicPattern } from "tinyglobby";

/** File extensions (lower case, with the dot) that directories and globs pick up. */
export const SUPPORTED_EXTENSIONS: readonly string[] = [
  ".pdf",
  ".png",
  ".jpg",
  ".jpeg",
  ".webp",
  ".tif",
  ".tiff",
  ".gif",
  ".bmp",
];

/**
 * Whether a path has one of the {@link SUPPORTED_EXTENSIONS} (case-insensitive).
 *
 * @param path - a file path or name
 * @returns true for e.g. `scan.PDF`, `a/b.jpeg`; false for `notes.txt` or no extension
 */
export function isSupportedInput(path: string): boolean {
  return SUPPORTED_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** Options of {@link expandInputs}. */
export interface ExpandInputsOptions {
  /** Directory that relative arguments and patterns are taken from; default `process.cwd()`. */
  cwd?: string;
}

/** One argument that produced no files, and why (one line). */
export interface InputError {
  input: string;
  error: string;
}

/** Result of {@link expandInputs}. */
export interface ExpandedInputs {
  /** Files to process, in argument order (directory and glob matches sorted), each once. */
  files: string[];
  /** Arguments that gave no files. */
  errors: InputError[];
}

// Natural order ("page2" before "page10"), then plain code-point order so the result never
// depends on the locale's ties.
const collator = new Intl.Collator("en", { numeric: true, sensitivity: "variant" });
function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENOTDIR") return "no such file or directory (a parent is not a directory)";
  if (code === "ELOOP") return "too many levels of symbolic links";
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

const extList = SUPPORTED_EXTENSIONS.join(" ");

/**
 * Turns the CLI's input arguments into the files to process.
 *
 * - An existing file is taken as it is, whatever its extension (the decoder gives an unknown
 *   type its own error).
 * - A directory gives every file with a {@link SUPPORTED_EXTENSIONS} extension below it,
 *   recursively, sorted in natural order; hidden entries are skipped, other files silently.
 * - Anything else that contains glob syntax is matched as a pattern relative to `cwd` (or
 *   absolute); its matches with a supported extension are taken, sorted.
 *
 * Returned paths are spelled like the argument: `docs` gives `docs/a.pdf`, `/x/*.png` gives
 * `/x/1.png`, relative patterns give paths relative to `cwd`. A file reached twice (named
 * twice, by overlapping arguments, or through a symbolic link) is kept at its first place only.
 *
 * @param args - the input arguments
 * @param opts - `cwd`
 * @returns the files, and one error per argument that gave none: "no such file or directory",
 *   "pattern matched no files", "directory has no supported files (...)", "permission denied", ...
 *   Never throws for a bad argument.
 */
export async function expandInputs(args: readonly string[], opts: ExpandInputsOptions = {}): Promise<ExpandedInputs> {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const files: string[] = [];
  const errors: InputError[] = [];
  const seen = new Set<string>();
  const add = async (path: string) => {
    const abs = resolve(cwd, path);
    let key = abs;
    try {
      key = await realpath(abs);
    } catch {
      // Keep the plain absolute path; opening the file will report the problem.
    }
    if (seen.has(key)) return;
    seen.add(key);
    files.push(path);
  };

  for (const arg of args) {
    if (arg === "") {
      errors.push({ input: arg, error: "empty file name" });
      continue;
    }
    const abs = resolve(cwd, arg);
    let info: Awaited<ReturnType<typeof stat>> | undefined;
    let statError: unknown;
    try {
      info = await stat(abs);
    } catch (e) {
      statError = e;
    }

    if (info?.isDirectory()) {
      let found: string[];
      try {
        found = await glob("**/*", { cwd: abs, dot: false, onlyFiles: true, expandDirectories: false });
      } catch (e) {
        errors.push({ input: arg, error: `cannot read directory: ${fsReason(e)}` });
        continue;
      }
      const supported = found.filter(isSupportedInput).sort(naturalCompare);
      if (supported.length === 0) {
        errors.push({ input: arg, error: `directory has no supported files (${extList})` });
        continue;
      }
      for (const rel of supported) await add(join(arg, rel));
      continue;
    }
    if (info) {
      await add(arg);
      continue;
    }

    const code = (statError as NodeJS.ErrnoException).code;
    if ((code === "ENOENT" || code === "ENOTDIR") && isDynamicPattern(arg)) {
      let found: string[];
      try {
        found = await glob(arg, {
          cwd,
          dot: false,
          onlyFiles: true,
          expandDirectories: false,
          absolute: isAbsolute(arg),
        });
      } catch (e) {
        errors.push({ input: arg, error: `bad pattern: ${fsReason(e)}` });
        continue;
      }
      const supported = found.filter(isSupportedInput).sort(naturalCompare);
      if (supported.length === 0) {
        let why = `pattern matched no supported files (${found.length} other file(s); supported: ${extList})`;
        // "scan (1).pdf" counts as a pattern (extglob): a missing file is what the user means.
        if (found.length === 0) why = /[*?{[]/.test(arg) ? "pattern matched no files" : "no such file or directory";
        errors.push({ input: arg, error: why });
        continue;
      }
      for (const path of supported) await add(path);
      continue;
    }
    errors.push({ input: arg, error: fsReason(statError) });
  }
  return { files, errors };
}
