/**
 * Library example: stream a page's text as it is generated, with a time limit (AbortSignal).
 *
 *   npx tsx examples/stream.ts <image> [model] [seconds]
 */
import { DeepSeekOCR } from "dsocr";

const [input, model = process.env.DSOCR_MODEL ?? "deepseek-ai/DeepSeek-OCR-2", seconds = "600"] = process.argv.slice(2);
if (!input) {
  console.error("usage: npx tsx examples/stream.ts <image> [model] [seconds]");
  process.exit(2);
}
const ocr = await DeepSeekOCR.load(model);
try {
  const stream = ocr.stream(input, {
    prompt: "free",
    maxTokens: 48,
    signal: AbortSignal.timeout(Number(seconds) * 1000),
  });
  for await (const text of stream) process.stdout.write(text);
  const { finished, usage } = await stream.result;
  process.stdout.write(`\n[${usage.completionTokens} tokens, ${finished ? "ended with EOS" : "token limit"}]\n`);
} catch (e) {
  console.error(`stopped: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
} finally {
  await ocr.close();
}
