/**
 * Library example: recognise one image or every page of a PDF and print the markdown.
 *
 *   npx tsx examples/extract.ts <image|pdf> [model]
 *
 * `model` is a checkpoint directory or a hub repo id (default: deepseek-ai/DeepSeek-OCR-2, or
 * $DSOCR_MODEL). With the tiny random checkpoint of `npm run demo` the text is random tokens.
 */
import { DeepSeekOCR } from "dsocr";

const [input, model = process.env.DSOCR_MODEL ?? "deepseek-ai/DeepSeek-OCR-2"] = process.argv.slice(2);
if (!input) {
  console.error("usage: npx tsx examples/extract.ts <image|pdf> [model]");
  process.exit(2);
}
const ocr = await DeepSeekOCR.load(model);
try {
  if (input.toLowerCase().endsWith(".pdf")) {
    for await (const page of ocr.extractDocument(input, { maxTokens: 64 })) {
      console.log(`## page ${page.page} (${page.image.width}x${page.image.height} px, ${page.tokens.length} tokens)`);
      console.log(page.markdown);
      for (const b of page.blocks) if (b.label) console.log(`  ${b.label}: ${JSON.stringify(b.boxesPx)}`);
    }
  } else {
    const page = await ocr.extract(input, { maxTokens: 64 });
    console.log(page.markdown);
    console.log(`${page.usage.completionTokens} tokens in ${page.timings.total.toFixed(2)} s`);
  }
} finally {
  await ocr.close();
}
