/**
 * DeepSeek-OCR 2 vision encoder ("DeepEncoder V2"): composition of the shared building blocks
 * (spec ../shared/spec/deepseek-ocr.md sections 5.1-5.5, pitfalls 1-3, 13).
 *
 * Per view: SAM ViT-B -> `[C3, h, w]` -> rows `[n = h·w, C3]` -> Qwen2 decoder-as-encoder with the
 * causal-flow queries -> `[n, hidden]` -> projector -> `[n, nEmbed]`.
 * Per image: the rows of every tile (tile order = crop order, each tile's n_t rows in query order),
 * then the n_g rows of the global view, then the `view_seperator` row. No newline rows in v2.
 */
import type { ModelConfig } from "../config/types.ts";
import type { LoadContext } from "./blocks/context.ts";
import type { Dumper } from "./dump.ts";
import { Projector } from "./projector.ts";
import { Qwen2Encoder } from "./qwen2-encoder.ts";
import { SamEncoder, type SamOutput, samGeometry, transpose2d } from "./sam.ts";

/** Checkpoint name of the separator row (sic: "seperator"). */
export const VIEW_SEPARATOR_NAME = "model.view_seperator";

/** The preprocessed views of one image (spec 3.2, 3.6). */
export interface ImageViews {
  /** Global view `[3, globalSize, globalSize]`, normalised (bf16-rounded) pixels, channel-major. */
  global: Float32Array;
  /** Side of the global view in pixels (1024 in crop mode). */
  globalSize: number;
  /** Tiles `[3, tileSize, tileSize]` each, in crop order (row-major over the grid); empty when not tiled. */
  tiles: Float32Array[];
  /** Side of a tile in pixels (768). Ignored when there are no tiles. */
  tileSize: number;
}

/**
 * Number of embedding rows an image yields (spec 4.4): tiles · n(tileSize) + n(globalSize) + 1, where
 * n(s) = (SAM output side for an s-pixel view)² (144 for 768, 256 for 1024).
 * @throws RangeError when a view is smaller than one patch
 */
export function v2ImageTokenCount(cfg: ModelConfig, globalSize: number, tileSize: number, nTiles: number): number {
  const g = samGeometry(cfg.sam, globalSize).tokens;
  return nTiles > 0 ? nTiles * samGeometry(cfg.sam, tileSize).tokens + g + 1 : g + 1;
}

/** The DeepSeek-OCR 2 vision encoder: SAM + Qwen2 encoder + projector + view separator. */
export class VisionV2 {
  constructor(
    readonly sam: SamEncoder,
    readonly qwen2: Qwen2Encoder,
    readonly projector: Projector,
    /** `view_seperator` `[nEmbed]`. */
    readonly viewSeparator: Float32Array,
  ) {}

  /**
   * Reads `model.sam_model.*`, `model.qwen2_model.*`, `model.projector.layers.*` and `model.view_seperator`.
   * @throws Error when `cfg` is not a v2 config (no `qwen2` section)
   * @throws CheckpointError when a tensor is missing or has another shape
   */
  static load(ctx: LoadContext, cfg: ModelConfig): VisionV2 {
    if (!cfg.qwen2)
      throw new Error(`VisionV2: config of ${cfg.architecture} has no Qwen2 encoder (not DeepSeek-OCR 2)`);
    return new VisionV2(
      SamEncoder.load(ctx, cfg.sam),
      Qwen2Encoder.load(ctx, cfg.qwen2),
      Projector.load(ctx, cfg.projector),
      ctx.ckpt.readF32(VIEW_SEPARATOR_NAME, [cfg.projector.nEmbed]),
    );
  }

  /** Projector output width (= LM hidden size). */
  get nEmbed(): number {
    return this.projector.nEmbed;
  }

  /**
   * One view through SAM, the Qwen2 encoder and the projector.
   * @param pixels `[3, size, size]`
   * @returns SAM output `[C3, h, w]`, Qwen2 output `[n, hidden]`, projected rows `[n, nEmbed]`
   * @throws RangeError on a wrong pixel count or a token count without a query table
   */
  encodeView(
    pixels: Float32Array,
    size: number,
    samDump?: { dumper: Dumper; prefix: string },
  ): { sam: SamOutput; qwen: Float32Array; proj: Float32Array; n: number } {
    const sam = this.sam.forward(pixels, size, samDump);
    const n = sam.h * sam.w;
    const qwen = this.qwen2.forward(transpose2d(sam.data, sam.channels, n), n);
    const proj = this.projector.forward(qwen, n);
    return { sam, qwen, proj, n };
  }

  /**
   * Encodes one image's views into its embedding rows, in merge order (spec 5.5): tile 0's rows, …,
   * tile T-1's rows, the global view's rows, the `view_seperator` row.
   *
   * Dumps (fixture names): `sam.global.*` (SAM internals, see {@link SamEncoder.forward}),
   * `qwen.global.out` `[1, n, hidden]`, `proj.global.out` `[1, n, nEmbed]`; with tiles also
   * `sam.tiles.out` `[T, C3, t, t]`, `sam.tile0.out`, `qwen.tiles.out` `[T, n_t, hidden]`,
   * `qwen.tile0.out`, `proj.tiles.out` `[T, n_t, nEmbed]`.
   *
   * @returns `[N, nEmbed]` with N = {@link v2ImageTokenCount} (T·144 + 256 + 1 at the real geometry)
   * @throws RangeError when a view has the wrong number of values or yields a token count without a query table
   */
  encodeImage(views: ImageViews, dumper?: Dumper): Float32Array {
    const e = this.nEmbed;
    // Check every view before any compute.
    const check = (px: Float32Array, size: number, what: string) => {
      if (px.length !== 3 * size * size) {
        throw new RangeError(`VisionV2: ${what} has ${px.length} values, expected 3x${size}x${size}`);
      }
      const n = samGeometry(this.sam.cfg, size).tokens;
      if (!this.qwen2.queries.has(n)) {
        throw new RangeError(
          `VisionV2: a ${size}-px view gives ${n} tokens; the Qwen2 encoder has query tables for ${this.qwen2.supportedTokenCounts().join(", ")}`,
        );
      }
    };
    check(views.global, views.globalSize, "global view");
    for (let i = 0; i < views.tiles.length; i++) check(views.tiles[i], views.tileSize, `tile ${i}`);
    // SAM internals are dumped for the global view only (the fixtures hold none for tiles).
    const tiles = views.tiles.map((t) => this.encodeView(t, views.tileSize));
    const glob = this.encodeView(views.global, views.globalSize, dumper ? { dumper, prefix: "sam.global" } : undefined);
    if (dumper) {
      const hidden = this.qwen2.cfg.hiddenSize;
      dumper.put("qwen.global.out", glob.qwen, [1, glob.n, hidden]);
      dumper.put("proj.global.out", glob.proj, [1, glob.n, e]);
      if (tiles.length > 0) {
        const t0 = tiles[0];
        const { channels, h, w } = t0.sam;
        dumper.put("sam.tile0.out", t0.sam.data, [1, channels, h, w]);
        dumper.put("sam.tiles.out", concat(tiles.map((t) => t.sam.data)), [tiles.length, channels, h, w]);
        dumper.put("qwen.tile0.out", t0.qwen, [1, t0.n, hidden]);
        dumper.put("qwen.tiles.out", concat(tiles.map((t) => t.qwen)), [tiles.length, t0.n, hidden]);
        dumper.put("proj.tiles.out", concat(tiles.map((t) => t.proj)), [tiles.length, t0.n, e]);
      }
    }
    return concat([...tiles.map((t) => t.proj), glob.proj, this.viewSeparator]);
  }
}

/** Concatenates arrays into a new one. */
function concat(parts: Float32Array[]): Float32Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
