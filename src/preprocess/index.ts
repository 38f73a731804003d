/**
 * Image preprocessing: decode an image file to RGB as Pillow does, build the global view and
 * tiles HF `infer()` makes, and turn views into normalised (bf16-rounded) tensors (spec §3).
 *
 * @module
 */

export { BmpError, decodeBmp } from "./bmp.ts";
export {
  DEFAULT_MAX_PIXELS,
  type DecodeImageOptions,
  decodeImage,
  ImageDecodeError,
  type ImageDecodeErrorKind,
  type ImageProbe,
  imageFrameCount,
  probeImage,
} from "./decode.ts";
export { createRgbImage, cropImage, pasteImage, type RgbImage } from "./image.ts";
export { bicubicAxisCoeffs, resizeBicubic } from "./resample.ts";
export { type NormalizeViewOptions, normalizeView, roundToBf16, toNormalizedTensor } from "./tensor.ts";
export {
  type BuildViewsOptions,
  buildViews,
  chooseTileGrid,
  containSize,
  DEFAULT_MAX_TILES,
  DEFAULT_MIN_TILES,
  type ModelVersion,
  makeTiles,
  PAD_COLOR,
  padToSquare,
  roundHalfEven,
  TILE_SIZE,
  type TileGridOptions,
  tileGridCandidates,
  type Views,
} from "./views.ts";
