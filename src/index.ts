/**
 * dsocr: DeepSeek-OCR 2 on the CPU. The library entry point.
 *
 * ```ts
 * import { DeepSeekOCR } from "dsocr";
 * const ocr = await DeepSeekOCR.load("deepseek-ai/DeepSeek-OCR-2");
 * const page = await ocr.extract("scan.png");
 * console.log(page.markdown);
 * for await (const p of ocr.extractDocument("paper.pdf")) console.log(p.page, p.markdown);
 * await ocr.close();
 * ```
 */
export { DeepSeekOCR } from "./api/deepseek-ocr.ts";
export { TokenStream } from "./api/token-stream.ts";
export type {
  DocumentOptions,
  ExtractOptions,
  ExtractResult,
  ImageInput,
  LoadOptions,
  PageExtract,
  ResultBlock,
  Usage,
} from "./api/types.ts";
export type { Box } from "./pipeline/grounding.ts";
export { pageOptions } from "./pipeline/options.ts";
export type { RgbImage } from "./preprocess/image.ts";
