/**
 * Child process of the leak test in pdf.test.ts: runs open/render/close and failing opens in a
 * fresh PDFium instance (whose heap has not been grown by other tests) and prints the WASM heap
 * size after a warm-up and after many more cycles, as JSON.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getPdfium, openPdf } from "../../src/pdf/index.ts";
import { CORPUS } from "../helpers/paths.ts";

const big = readFileSync(join(CORPUS, "pdf/bad/broken-xref_poppler-opens-pdfium-rejects.pdf")); // 2.8 MB, fails
const report = readFileSync(join(CORPUS, "pdf/tables-multipage_ibm-redbook-sampled.pdf")); // 1.3 MB, 18 pages

async function cycle(): Promise<void> {
  await openPdf(big).then(
    () => {
      throw new Error("expected a failure");
    },
    () => {},
  );
  const doc = await openPdf(report);
  try {
    doc.pageSize(17);
    await doc.renderPage(0, { dpi: 144 }); // 5.8 MB bitmap
    await doc.renderPage(1, { maxPixels: 10 }).catch(() => {});
  } finally {
    doc.close();
  }
}

const m = await getPdfium();
for (let i = 0; i < 3; i++) await cycle();
const before = m.rt.HEAPU8.length;
for (let i = 0; i < Number(process.argv[2] ?? 20); i++) await cycle();
console.log(JSON.stringify({ before, after: m.rt.HEAPU8.length }));
