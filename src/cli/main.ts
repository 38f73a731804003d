/**
 * The `dsocr` command line: `dsocr <pdf|image>... --model <dir>` (the main job) and
 * `dsocr make-random` (a random-weight checkpoint for demos and benchmarks), `dsocr download` (a model
 * into the Hugging Face cache).
 */
import { availableParallelism } from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_MODEL } from "../hub/resolve.ts";
import { DEFAULT_DPI, DEFAULT_PAGE_OPTIONS } from "../pipeline/options.ts";

function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be an integer (got "${v}")`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max} (got ${n})`);
    return n;
  };
}

function numArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number between ${min} and ${max} (got "${v}")`);
    }
    return n;
  };
}

function windowArg(v: string): number | "all" {
  if (v === "all") return "all";
  return intArg("--ngram-window", 1)(v);
}

const program = new Command();
program
  .name("dsocr")
  .enablePositionalOptions()
  .description(
    "DeepSeek-OCR 2 on the CPU: PDFs and images to markdown (<name>.md), raw output with boxes " +
      "(<name>.det.md), structured pages (<name>.json), cropped figures (images/) and a layout PDF (--layout).",
  )
  .argument("[inputs...]", "PDF and image files (PNG, JPEG, WebP, TIFF, GIF, BMP), directories, or glob patterns")
  .option(
    "-m, --model <dir|repo>",
    "checkpoint directory, or a Hugging Face repo id looked up in the HF cache",
    DEFAULT_MODEL,
  )
  .option("--no-download", "never download: fail if the model is not in the Hugging Face cache")
  .option("-o, --out <dir>", "output directory (default: dsocr-out; with --json and no --out, no files are kept)")
  .option("--pages <list>", "pages to read, e.g. 1-3,7,10- (default: all)")
  .option(
    "-p, --prompt <prompt>",
    "document | free | figure | describe | locate:<text> | custom text with <image>",
    DEFAULT_PAGE_OPTIONS.prompt,
  )
  .option(
    "--max-tiles <n>",
    "0 = global 1024-px view only (crop_mode off), 2..6 = up to n local 768-px tiles",
    intArg("--max-tiles", 0, 6),
    DEFAULT_PAGE_OPTIONS.maxTiles,
  )
  .option(
    "--max-tokens <n>",
    "most tokens generated per page",
    intArg("--max-tokens", 1),
    DEFAULT_PAGE_OPTIONS.maxTokens,
  )
  .option("--ngram-size <n>", "n-gram repetition guard length, 0 = off", intArg("--ngram-size", 0), 20)
  .option(
    "--ngram-window <n|all>",
    "search the last n generated ids (<td>/</td> allowed) or 'all' ids incl. the prompt (as HF infer())",
    windowArg,
    50,
  )
  .option("--password <pw>", "password of encrypted PDFs")
  .option("--dpi <n>", "PDF render resolution", intArg("--dpi", 18, 1200), DEFAULT_DPI)
  .addOption(
    new Option(
      "--precision <p>",
      "f32 (exact parity with the official code), bf16 (as the official bf16 inference), int8 (language-model weights), auto (bf16 with the AVX2 or AVX-512 kernels, f32 with the scalar ones)",
    )
      .choices(["auto", "f32", "bf16", "int8"])
      .default("auto"),
  )
  .option("--threads <n>", "compute threads", intArg("--threads", 1, 1024), availableParallelism())
  .option(
    "--concurrency <n>",
    "pages in flight together (across documents): their decode steps are batched, sharing each weight read",
    intArg("--concurrency", 1, 256),
    1,
  )
  .option(
    "--pack-cache [dir]",
    "bf16/int8: keep the packed weights in a cache file (in <dir>, default <model>/.dsocr-cache), written by the first run and mapped by later ones instead of repacking (about as much disk as the packed model)",
  )
  .option("--layout", "also write <name>.layout.pdf: every page with its labelled, colour-coded boxes")
  .option(
    "--no-retry",
    "keep a page that hits --max-tokens as is (default: retry it once with a stricter repetition guard)",
  )
  .option("--resume", "skip pages already in <name>.json from an earlier run with the same input and settings")
  .option("--json", "print one JSON object with every document on stdout (files only with an explicit --out)")
  .addOption(
    new Option("--progress <mode>", "bar (on a terminal), json (JSON lines on stderr), plain, none")
      .choices(["auto", "bar", "json", "plain", "none"])
      .default("auto"),
  )
  .option(
    "--temperature <t>",
    "sample with this temperature instead of greedy decoding",
    numArg("--temperature", 0, 100),
  )
  .option("--top-p <p>", "nucleus sampling mass (with --temperature)", numArg("--top-p", 0, 1), 1)
  .option("--seed <n>", "sampling seed", intArg("--seed", 0), 0)
  .option("--dump <dir>", "write intermediate tensors (fixture names) to <dir> as safetensors")
  .addHelpText(
    "after",
    `
Examples:
  dsocr paper.pdf                        markdown of every page in dsocr-out/
  dsocr scans/ "photos/*.jpg" --out out  every PDF and image in a folder and a glob
  dsocr book.pdf --pages 1-3,7 --layout  some pages, plus a PDF with the layout boxes
  dsocr book.pdf --resume                continue an interrupted run
  dsocr download                         fetch deepseek-ai/DeepSeek-OCR-2 into the Hugging Face cache

Exit status: 0 all done, 1 an input or page failed, 2 usage or model error, 130 interrupted.`,
  )
  .action(async (inputs: string[], opts) => {
    const { runCli } = await import("./run.ts");
    process.exitCode = await runCli(inputs, opts);
  });

program
  .command("make-random")
  .description("write a random-weight checkpoint (real tensor names and shapes) for demos and benchmarks")
  .addOption(new Option("--preset <name>", "model preset").choices(["tiny-v2", "full-v2"]))
  .option("--config <file>", "use this config.json instead of a preset")
  .requiredOption("--out <dir>", "checkpoint directory to write")
  .option("--seed <n>", "random seed", intArg("--seed", 0), 0)
  .action(async (opts) => {
    const { runMakeRandom } = await import("./make-random.ts");
    process.exitCode = await runMakeRandom(opts);
  });

program
  .command("download")
  .description(
    "download a model from the Hugging Face Hub into the Hugging Face cache (shared with the Python tools); prints its directory",
  )
  .argument("[repo]", "org/name[@revision] (default deepseek-ai/DeepSeek-OCR-2)")
  .option("--revision <rev>", "branch, tag or commit hash (default main)")
  .option("--cache-dir <dir>", "hub cache directory (default HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)")
  .action(async (repo: string | undefined, opts) => {
    const { runDownload } = await import("./download.ts");
    process.exitCode = await runDownload(repo, opts);
  });

program.showHelpAfterError("(run dsocr --help for usage)");
await program.parseAsync(process.argv);
