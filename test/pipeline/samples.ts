/** Hand-written model outputs shaped like real DeepSeek-OCR output (spec 9.1), shared by the pipeline tests. */
import { EOS_TEXT } from "../../src/pipeline/grounding.ts";

/** A page as the model writes it with the grounding prompt (spec 9.1), ending with EOS. */
export const PAGE = [
  "<|ref|>title<|/ref|><|det|>[[94, 65, 905, 100]]<|/det|>",
  "# DeepSeek-OCR 2: Visual Causal Flow",
  "",
  "<|ref|>text<|/ref|><|det|>[[94, 120, 905, 180]]<|/det|>",
  "We define \\(a \\coloneqq b\\) and read the page in order.",
  "",
  "<|ref|>image<|/ref|><|det|>[[100, 200, 480, 420], [520, 200, 900, 420]]<|/det|>",
  "",
  "",
  "<|ref|>image_caption<|/ref|><|det|>[[100, 425, 900, 445]]<|/det|>",
  "<center>Figure 1: Two views.</center>",
  "",
  "<|ref|>table<|/ref|><|det|>[[90, 460, 910, 700]]<|/det|>",
  "<table><tr><td>Model</td><td>Score</td></tr><tr><td>A</td><td>0.91</td></tr></table>",
  "",
  "<|ref|>equation<|/ref|><|det|>[[200, 720, 800, 760]]<|/det|>",
  "\\[",
  "x \\eqqcolon y",
  `\\]${EOS_TEXT}`,
].join("\n");
