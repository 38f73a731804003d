/**
 * decodeImage / probeImage / imageFrameCount on every corpus image (../shared/corpus/MANIFEST.json
 * `expected`) and on synthetic inputs for the Pillow `.convert("RGB")` rules (spec §3.1,
 * implementer note 4).
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import sharp from "sharp";
import { decodeBmp } from "../../src/preprocess/bmp.ts";
import {
  DEFAULT_MAX_PIXELS,
  decodeImage,
  ImageDecodeError,
  imageFrameCount,
  probeImage,
} from "../../src/preprocess/decode.ts";
import { CORPUS, FIXTURES, tempDir } from "../helpers/paths.ts";

interface ManifestEntry {
  path: string;
  expected: string;
  pixel_size: string | null;
  frames?: number;
}

const manifest = JSON.parse(readFileSync(join(CORPUS, "MANIFEST.json"), "utf8")) as { files: ManifestEntry[] };
const images = manifest.files.filter((f) => f.path.startsWith("img/"));

/** Expected outcome per corpus file, from its MANIFEST `expected` text. */
function expectation(e: ManifestEntry): { ok: true; size: [number, number] } | { ok: false; kind: string } {
  if (e.expected.startsWith("error")) {
    if (/too large/.test(e.expected)) return { ok: false, kind: "too-large" };
    if (/unsupported|unknown/.test(e.expected)) return { ok: false, kind: "unsupported" };
    return { ok: false, kind: "corrupt" };
  }
  // "ok (... 640x480 after rotation)" gives the size after EXIF orientation.
  const after = /(\d+)x(\d+) after rotation/.exec(e.expected);
  const m = after ?? /^(\d+)x(\d+)$/.exec(e.pixel_size ?? "");
  assert.ok(m, `${e.path}: no size in MANIFEST`);
  return { ok: true, size: [Number(m[1]), Number(m[2])] };
}

async function rejectsWith(p: Promise<unknown>, kind: string, fileHint?: string): Promise<ImageDecodeError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ImageDecodeError, `expected ImageDecodeError, got ${e}`);
    assert.equal(e.kind, kind, e.message);
    assert.ok(!e.message.includes("\n"), "message must be one line");
    if (fileHint) assert.ok(e.message.includes(fileHint), `message names the file: ${e.message}`);
    return e;
  }
  assert.fail(`expected an ImageDecodeError (${kind})`);
}

test("the corpus has the image entries this test walks", () => {
  assert.ok(images.length >= 20);
});

for (const entry of images) {
  test(`corpus ${entry.path}`, async () => {
    const path = join(CORPUS, entry.path);
    const want = expectation(entry);
    if (!want.ok) {
      await rejectsWith(decodeImage(path), want.kind, entry.path);
      // A truncated file can have a readable header: probing it may succeed.
      if (want.kind !== "corrupt") await rejectsWith(probeImage(path), want.kind, entry.path);
      return;
    }
    const img = await decodeImage(path);
    assert.deepEqual([img.width, img.height], want.size);
    assert.equal(img.data.length, img.width * img.height * 3);
    const probe = await probeImage(path);
    assert.deepEqual([probe.width, probe.height], want.size);
    assert.equal(probe.frames, entry.frames ?? 1);
    assert.equal(await imageFrameCount(path), entry.frames ?? 1);
  });
}

test("bomb GIF is rejected from its header, naming the declared size", async () => {
  const e = await rejectsWith(decodeImage(join(CORPUS, "img/bad/huge-dimensions_65535x66601.gif")), "too-large");
  assert.match(e.message, /65535x66601/);
  assert.match(e.message, new RegExp(String(DEFAULT_MAX_PIXELS)));
});

test("maxPixels is checked before decoding; Infinity disables it", async () => {
  const page = join(FIXTURES, "images", "page.png");
  await rejectsWith(decodeImage(page, { maxPixels: 1191 * 1684 - 1 }), "too-large", "page.png");
  await rejectsWith(probeImage(page, { maxPixels: 1000 }), "too-large");
  const img = await decodeImage(page, { maxPixels: 1191 * 1684 });
  assert.equal(img.width, 1191);
  assert.equal((await decodeImage(page, { maxPixels: Number.POSITIVE_INFINITY })).height, 1684);
});

test("errors: missing file, directory, empty input, text file, bad page", async () => {
  await rejectsWith(decodeImage(join(CORPUS, "img", "no-such-file.png")), "unreadable", "no-such-file.png");
  await rejectsWith(decodeImage(join(CORPUS, "img")), "unreadable");
  await rejectsWith(decodeImage(Buffer.alloc(0), { name: "empty.png" }), "empty", "empty.png");
  await rejectsWith(decodeImage(Buffer.from("hello world, not an image")), "unsupported", "<buffer>");
  const tif = join(CORPUS, "img/tiff-multipage_two-scans.tif");
  await rejectsWith(decodeImage(tif, { page: 2 }), "bad-page");
  await rejectsWith(decodeImage(tif, { page: -1 }), "bad-page");
  await rejectsWith(decodeImage(join(CORPUS, "img/bmp_rgb24.bmp"), { page: 1 }), "bad-page");
});

test("multi-page TIFF: page by page, pages differ in size", async () => {
  const tif = join(CORPUS, "img/tiff-multipage_two-scans.tif");
  const p0 = await decodeImage(tif, { page: 0 });
  const p1 = await decodeImage(tif, { page: 1 });
  assert.deepEqual([p0.width, p0.height], [3312, 2550]);
  assert.deepEqual([p1.width, p1.height], [2560, 3300]);
});

test("animated GIF: any frame decodes to the canvas size", async () => {
  const gif = join(CORPUS, "img/gif-animated_chi.gif");
  const f0 = await decodeImage(gif);
  const f30 = await decodeImage(gif, { page: 30 });
  assert.deepEqual([f30.width, f30.height], [320, 240]);
  assert.ok(!Buffer.from(f0.data).equals(Buffer.from(f30.data)), "frames differ");
});

test("alpha is dropped, not composited: RGB under transparent pixels kept (fixtures rgba.png)", async () => {
  const path = join(FIXTURES, "images", "rgba.png");
  const img = await decodeImage(path);
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 4);
  let transparent = 0;
  let nonWhiteUnderTransparent = 0;
  for (let i = 0, j = 0; i < info.width * info.height; i++, j += 4) {
    if (data[j + 3] === 0) {
      transparent++;
      if (data[j] !== 255 || data[j + 1] !== 255 || data[j + 2] !== 255) nonWhiteUnderTransparent++;
    }
    for (let c = 0; c < 3; c++) {
      if (img.data[i * 3 + c] !== data[j + c])
        assert.fail(`pixel ${i} channel ${c}: ${img.data[i * 3 + c]} vs ${data[j + c]}`);
    }
  }
  assert.ok(transparent > 100_000);
  assert.ok(nonWhiteUnderTransparent > 1000, "the page's text under alpha 0 is kept");
});

test("greyscale -> (v, v, v), equal to the 1-channel values", async () => {
  const path = join(CORPUS, "img/gray_baiona.png");
  const img = await decodeImage(path);
  const grey = await sharp(path).extractChannel(0).raw().toBuffer();
  for (let i = 0; i < grey.length; i++) {
    const o = i * 3;
    if (img.data[o] !== grey[i] || img.data[o + 1] !== grey[i] || img.data[o + 2] !== grey[i]) {
      assert.fail(`pixel ${i}`);
    }
  }
});

test("EXIF orientation 6: the stored pixels rotated 90 degrees clockwise", async () => {
  const path = join(CORPUS, "img/exif-orientation-6_phototest.jpg");
  const img = await decodeImage(path);
  const { data, info } = await sharp(path).toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [480, 640]);
  assert.deepEqual([img.width, img.height], [640, 480]);
  // Rotating clockwise: output (x, y) comes from stored (y, H - 1 - x).
  for (let y = 0; y < img.height; y += 7) {
    for (let x = 0; x < img.width; x += 5) {
      const s = ((info.height - 1 - x) * info.width + y) * info.channels;
      assert.equal(img.data[(y * img.width + x) * 3], data[s]);
    }
  }
});

test("16-bit grey: 'scale' takes the high byte, 'clip' is Pillow's i2rgb clip to 0..255", async () => {
  const path = join(CORPUS, "img/png16-gray_eurotext.png");
  const { data } = await sharp(path)
    .toColourspace("grey16")
    .raw({ depth: "ushort" })
    .toBuffer({ resolveWithObject: true });
  const u16 = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  const scaled = await decodeImage(path);
  const clipped = await decodeImage(path, { grey16: "clip" });
  for (let i = 0; i < u16.length; i++) {
    assert.equal(scaled.data[i * 3], u16[i] >> 8);
    assert.equal(clipped.data[i * 3 + 2], Math.min(u16[i], 255));
  }
  // Synthetic ramp with mid values, where the two differ.
  const ramp = new Uint16Array(256).map((_, i) => i * 257);
  const png = await sharp(ramp, { raw: { width: 256, height: 1, channels: 1 } })
    .toColourspace("grey16")
    .png()
    .toBuffer();
  const s = await decodeImage(png);
  const c = await decodeImage(png, { grey16: "clip" });
  for (let i = 0; i < 256; i++) {
    assert.equal(s.data[i * 3], i);
    assert.equal(c.data[i * 3], i === 0 ? 0 : 255);
  }
});

test("16-bit RGB: high byte of each sample (Pillow RGB;16B)", async () => {
  const raw16 = new Uint16Array(64 * 3).map((_, i) => (i * 2579 + 17) & 0xffff);
  const png = await sharp(raw16, { raw: { width: 64, height: 1, channels: 3 } })
    .toColourspace("rgb16")
    .png()
    .toBuffer();
  const img = await decodeImage(png);
  for (let i = 0; i < raw16.length; i++) assert.equal(img.data[i], raw16[i] >> 8);
});

test("CMYK JPEG: Pillow's cmyk2rgb formula, white paper stays white", async () => {
  const path = join(CORPUS, "img/cmyk_baiona.jpg");
  const img = await decodeImage(path);
  const { data, info } = await sharp(path).toColourspace("cmyk").raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 4);
  const md = (a: number, b: number) => {
    const t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (let i = 0; i < info.width * info.height; i += 13) {
    const nk = 255 - data[i * 4 + 3];
    for (let c = 0; c < 3; c++) assert.equal(img.data[i * 3 + c], Math.max(0, nk - md(data[i * 4 + c], nk)));
  }
  assert.deepEqual([...img.data.subarray(0, 3)], [255, 255, 255]);
  // Close to an ICC conversion on average (a sanity check of the channel order / inversion).
  const icc = await sharp(path).raw().toBuffer();
  let sum = 0;
  for (let i = 0; i < icc.length; i++) sum += Math.abs(icc[i] - img.data[i]);
  assert.ok(sum / icc.length < 8, `mean |diff| vs ICC conversion ${sum / icc.length}`);
});

test("palette PNG decodes to its RGB entries", async () => {
  const path = join(CORPUS, "img/palette_baiona.png");
  const img = await decodeImage(path);
  const ref = await sharp(path).toColourspace("srgb").removeAlpha().raw().toBuffer();
  assert.ok(Buffer.from(img.data).equals(ref));
});

/**
 * Builds a BMP file: a Windows info header of `headerSize` bytes (40 by default; 108 / 124 for
 * V4 / V5 with zero colour masks, as BI_RGB files have; 12 for the OS/2 core header with 3-byte
 * palette entries), given bpp, bottom-up unless topDown, and `gap` unused bytes before the pixels.
 */
function makeBmp(opts: {
  width: number;
  height: number;
  bpp: number;
  palette?: [number, number, number][];
  pixel: (x: number, y: number) => number[]; // bytes of one pixel (or palette index)
  topDown?: boolean;
  compression?: number;
  headerSize?: number;
  gap?: number;
}): Buffer {
  const { width, height, bpp } = opts;
  const hs = opts.headerSize ?? 40;
  const palEntry = hs === 12 ? 3 : 4;
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const pal = [...(opts.palette ?? [])];
  // The core header has no colour count: a palette image carries all 2^bpp entries.
  if (hs === 12 && bpp <= 8) while (pal.length < 1 << bpp) pal.push([0, 0, 0]);
  const offset = 14 + hs + pal.length * palEntry + (opts.gap ?? 0);
  const buf = Buffer.alloc(offset + stride * height);
  buf.write("BM", 0, "latin1");
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(hs, 14);
  if (hs === 12) {
    buf.writeUInt16LE(width, 18);
    buf.writeUInt16LE(height, 20);
    buf.writeUInt16LE(1, 22);
    buf.writeUInt16LE(bpp, 24);
  } else {
    buf.writeInt32LE(width, 18);
    buf.writeInt32LE(opts.topDown ? -height : height, 22);
    buf.writeUInt16LE(1, 26);
    buf.writeUInt16LE(bpp, 28);
    buf.writeUInt32LE(opts.compression ?? 0, 30);
    buf.writeUInt32LE(pal.length, 46);
  }
  pal.forEach(([r, g, b], i) => {
    const o = 14 + hs + i * palEntry;
    buf[o] = b;
    buf[o + 1] = g;
    buf[o + 2] = r;
  });
  for (let y = 0; y < height; y++) {
    const row = offset + (opts.topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const px = opts.pixel(x, y);
      if (bpp >= 8) {
        for (const [k, v] of px.entries()) buf[row + x * (bpp / 8) + k] = v;
      } else {
        const perByte = 8 / bpp;
        const shift = 8 - bpp * ((x % perByte) + 1);
        buf[row + Math.floor(x / perByte)] |= px[0] << shift;
      }
    }
  }
  return buf;
}

test("BMP: 24-bit, 32-bit, 8/4/1-bit palette, 16-bit 5-5-5, top-down; RLE rejected", async () => {
  const w = 5;
  const h = 3;
  const rgb = (x: number, y: number) => [x * 40, y * 80, (x + y) * 20];
  const check = (img: { width: number; height: number; data: Uint8Array }, f: (x: number, y: number) => number[]) => {
    assert.deepEqual([img.width, img.height], [w, h]);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        assert.deepEqual([...img.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)], f(x, y));
  };
  const bgr = (x: number, y: number) => {
    const [r, g, b] = rgb(x, y);
    return [b, g, r];
  };
  check(await decodeImage(makeBmp({ width: w, height: h, bpp: 24, pixel: bgr })), rgb);
  check(await decodeImage(makeBmp({ width: w, height: h, bpp: 24, pixel: bgr, topDown: true })), rgb);
  check(await decodeImage(makeBmp({ width: w, height: h, bpp: 32, pixel: (x, y) => [...bgr(x, y), 7] })), rgb);
  const pal: [number, number, number][] = Array.from({ length: 16 }, (_, i) => [i * 16, 255 - i * 16, i]);
  const idx = (x: number, y: number) => (x + y * w) % 16;
  check(
    await decodeImage(makeBmp({ width: w, height: h, bpp: 8, palette: pal, pixel: (x, y) => [idx(x, y)] })),
    (x, y) => pal[idx(x, y)],
  );
  check(
    await decodeImage(makeBmp({ width: w, height: h, bpp: 4, palette: pal, pixel: (x, y) => [idx(x, y)] })),
    (x, y) => pal[idx(x, y)],
  );
  const bw: [number, number, number][] = [
    [0, 0, 0],
    [255, 255, 255],
  ];
  check(
    await decodeImage(makeBmp({ width: w, height: h, bpp: 1, palette: bw, pixel: (x, y) => [(x + y) & 1] })),
    (x, y) => bw[(x + y) & 1],
  );
  // 16-bit 5-5-5: v * 255 / 31 (integer division), as Pillow's BGR;15 unpacker.
  const p15 = (x: number, y: number) => [x * 7, y * 9, (x * 3 + y) & 31];
  const px16 = (x: number, y: number) => {
    const [r, g, b] = p15(x, y);
    const v = (r << 10) | (g << 5) | b;
    return [v & 255, v >> 8];
  };
  check(await decodeImage(makeBmp({ width: w, height: h, bpp: 16, pixel: px16 })), (x, y) =>
    p15(x, y).map((v) => Math.floor((v * 255) / 31)),
  );
  const rle = makeBmp({ width: w, height: h, bpp: 8, palette: pal, pixel: () => [0], compression: 1 });
  await rejectsWith(decodeImage(rle, { name: "rle.bmp" }), "unsupported", "rle.bmp");
  await rejectsWith(decodeImage(makeBmp({ width: w, height: h, bpp: 24, pixel: bgr }).subarray(0, 70)), "corrupt");
  assert.throws(() => decodeBmp(makeBmp({ width: w, height: h, bpp: 24, pixel: bgr }), 10), /too large/);
});

test("BMP: V4/V5 headers, OS/2 core header, pixel data after a gap, odd widths", async () => {
  const w = 7;
  const h = 3;
  const rgb = (x: number, y: number) => [x * 30, y * 70, 255 - x * 10];
  const bgr = (x: number, y: number) => rgb(x, y).reverse();
  const expectRgb = (img: { width: number; height: number; data: Uint8Array }) => {
    assert.deepEqual([img.width, img.height], [w, h]);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        assert.deepEqual([...img.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)], rgb(x, y));
  };
  // BI_RGB with a V4 / V5 header: the (zero) colour masks in the header do not apply.
  for (const headerSize of [108, 124]) {
    expectRgb(
      await decodeImage(makeBmp({ width: w, height: h, bpp: 32, headerSize, pixel: (x, y) => [...bgr(x, y), 0] })),
    );
    expectRgb(await decodeImage(makeBmp({ width: w, height: h, bpp: 24, headerSize, pixel: bgr })));
  }
  // Pixel data starts at the offset the file header gives, not right after the palette.
  expectRgb(await decodeImage(makeBmp({ width: w, height: h, bpp: 24, gap: 10, pixel: bgr })));
  // OS/2 BITMAPCOREHEADER: 16-bit sizes, 3-byte palette entries.
  expectRgb(await decodeImage(makeBmp({ width: w, height: h, bpp: 24, headerSize: 12, pixel: bgr })));
  const pal: [number, number, number][] = [
    [200, 10, 10],
    [10, 200, 10],
    [10, 10, 200],
  ];
  const os2 = await decodeImage(
    makeBmp({ width: w, height: h, bpp: 8, headerSize: 12, palette: pal, pixel: (x, y) => [(x + y) % 3] }),
  );
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      assert.deepEqual([...os2.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)], pal[(x + y) % 3]);
  // Odd width with 4 bits per pixel: every row decodes, not only the first.
  const p4 = await decodeImage(makeBmp({ width: w, height: h, bpp: 4, palette: pal, pixel: (x, y) => [(x * y) % 3] }));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      assert.deepEqual([...p4.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)], pal[(x * y) % 3]);
});

test("BMP is found by its BM signature, not by the extension; its size limit applies from the header", async () => {
  const dir = tempDir("dsocr-decode-");
  const bmp = makeBmp({ width: 3, height: 2, bpp: 24, pixel: () => [1, 2, 3] });
  const asPng = join(dir, "really-a-bmp.png");
  writeFileSync(asPng, bmp);
  assert.deepEqual(await probeImage(asPng), { format: "bmp", width: 3, height: 2, frames: 1 });
  assert.deepEqual([...(await decodeImage(asPng)).data.subarray(0, 3)], [3, 2, 1]);
  // And a PNG named .bmp is a PNG.
  const asBmp = join(dir, "really-a-png.bmp");
  writeFileSync(
    asBmp,
    await sharp({ create: { width: 4, height: 5, channels: 3, background: "#0a0b0c" } })
      .png()
      .toBuffer(),
  );
  assert.equal((await probeImage(asBmp)).format, "png");
  assert.deepEqual([...(await decodeImage(asBmp)).data.subarray(0, 3)], [10, 11, 12]);
  // A 60-byte BMP that declares 100000 x 100000 pixels is refused from its header.
  const bomb = makeBmp({ width: 1, height: 1, bpp: 24, pixel: () => [0, 0, 0] });
  bomb.writeInt32LE(100_000, 18);
  bomb.writeInt32LE(100_000, 22);
  writeFileSync(join(dir, "bomb.bmp"), bomb);
  const e = await rejectsWith(decodeImage(join(dir, "bomb.bmp")), "too-large", "bomb.bmp");
  assert.match(e.message, /image too large: 100000x100000/);
  await rejectsWith(probeImage(join(dir, "bomb.bmp")), "too-large", "bomb.bmp");
});

test("the 1x1 PNG decodes (no minimum size: infer() accepts it too)", async () => {
  const path = join(CORPUS, "img/tiny_1x1.png");
  const img = await decodeImage(path);
  const ref = await sharp(path).toColourspace("srgb").removeAlpha().raw().toBuffer();
  assert.deepEqual([img.width, img.height], [1, 1]);
  assert.deepEqual([...img.data], [...ref]);
});

test("the GIF bomb is refused from its header: no decoder is run", async () => {
  // The 44-byte file declares 65535x66601; libvips would answer "Unexpected end of GIF source
  // data" (kind "corrupt"). "too-large" with the declared size shows the header check refused it.
  const path = join(CORPUS, "img/bad/huge-dimensions_65535x66601.gif");
  for (const call of [() => decodeImage(path), () => probeImage(path), () => decodeImage(path, { page: 3 })]) {
    const e = await rejectsWith(call(), "too-large", "huge-dimensions_65535x66601.gif");
    assert.match(e.message, /65535x66601 = 4364696535 pixels/);
  }
});
