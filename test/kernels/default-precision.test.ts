// defaultPrecision (the `auto` precision of the CLI and the library): bf16 where the native kernels
// run with SIMD (AVX2 or AVX-512), f32 at the scalar level and with the reference kernels.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { defaultPrecision, supportedIsaLevels } from "../../src/kernels/index.ts";

const saved = { isa: process.env.DSOCR_ISA, kernels: process.env.DSOCR_KERNELS };
afterEach(() => {
  for (const [k, v] of [
    ["DSOCR_ISA", saved.isa],
    ["DSOCR_KERNELS", saved.kernels],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test("auto precision follows the kernel level: bf16 with AVX2 / AVX-512, f32 with scalar or reference kernels", () => {
  for (const isa of supportedIsaLevels()) {
    process.env.DSOCR_ISA = isa;
    assert.equal(defaultPrecision(), isa === "scalar" ? "f32" : "bf16", isa);
  }
  delete process.env.DSOCR_ISA;
  process.env.DSOCR_KERNELS = "reference";
  assert.equal(defaultPrecision(), "f32");
});
