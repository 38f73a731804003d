// The modules under test, imported in one place (the tests fail with the build hint when the
// addon is missing: createNativeKernels throws "... run `npm run build:native` ...").

export { getKernels, referenceKernels } from "../../src/kernels/index.ts";
export {
  cpuFeatures,
  createNativeKernels,
  defaultIsa,
  loadAddon,
  supportedIsaLevels,
  unpackInt8ForTests,
} from "../../src/kernels/native.ts";
export {
  bf16ToF32,
  f32ToBf16 as f32ToBf16ForTests,
  quantizeRows,
  type RefPackedInt8,
  ropeInvFreq,
} from "../../src/kernels/reference.ts";
export type { AttentionParams, Conv2dParams, Kernels, PlainWeight, Weight } from "../../src/kernels/types.ts";
