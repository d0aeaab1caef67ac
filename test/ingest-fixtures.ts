/**
 * Images for the ingest suites, made with sharp: known colours, EXIF with a location, every
 * accepted format, and bad inputs (truncated, decompression-bomb header, not an image).
 */
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";

/** Vertical bands of solid colour, `share` of the width each (shares sum to 1). */
export async function bands(colors: Array<{ hex: string; share: number }>, format: "png" | "jpeg" = "png", width = 400, height = 200): Promise<Uint8Array> {
  let x = 0;
  const rects = colors.map(({ hex, share }) => {
    const w = Math.round(share * width);
    const rect = `<rect x="${x}" y="0" width="${w}" height="${height}" fill="${hex}"/>`;
    x += w;
    return rect;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${rects.join("")}</svg>`;
  const image = sharp(Buffer.from(svg));
  return new Uint8Array(await (format === "png" ? image.png() : image.jpeg({ quality: 95 })).toBuffer());
}

/** A scene that differs with `seed` (so each call gives new bytes), in the given format. */
export async function scene(seed: number, format: "jpeg" | "png" | "webp" | "avif" | "gif" = "jpeg", width = 320, height = 240): Promise<Uint8Array> {
  const hue = (seed * 47) % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="hsl(${hue},60%,55%)"/>
    <circle cx="${(seed * 37) % width}" cy="${(seed * 53) % height}" r="${40 + (seed % 30)}" fill="hsl(${(hue + 150) % 360},70%,40%)"/>
    <rect x="10" y="${height - 60}" width="${width - 20}" height="40" fill="hsl(${(hue + 60) % 360},50%,80%)"/>
  </svg>`;
  const image = sharp(Buffer.from(svg));
  const encoded =
    format === "jpeg" ? image.jpeg({ quality: 90 }) : format === "png" ? image.png() : format === "webp" ? image.webp() : format === "avif" ? image.avif({ effort: 0 }) : image.gif();
  return new Uint8Array(await encoded.toBuffer());
}

/** A 300×200 JPEG stored sideways (EXIF orientation 6 → shown 200×300) with a GPS position and camera fields. */
export async function jpegWithLocation(): Promise<Uint8Array> {
  const base = await scene(7, "png", 300, 200);
  return new Uint8Array(
    await sharp(base)
      .jpeg({ quality: 90 })
      .withExif({
        IFD0: { Make: "TestCam", Model: "Secret Model 9" },
        IFD3: { GPSLatitudeRef: "N", GPSLatitude: "51/1 30/1 0/1", GPSLongitudeRef: "W", GPSLongitude: "0/1 7/1 0/1" },
      })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
  );
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/** A ~1 KB PNG whose header claims `width`×`height` RGB pixels (a decompression bomb's header). */
export function bombPng(width = 60_000, height = 60_000): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([signature, pngChunk("IHDR", ihdr), pngChunk("IDAT", deflateSync(Buffer.alloc(1024))), pngChunk("IEND", new Uint8Array())]));
}

/** The first `fraction` of an image's bytes. */
export function truncate(bytes: Uint8Array, fraction = 0.6): Uint8Array {
  return bytes.slice(0, Math.floor(bytes.byteLength * fraction));
}

/** A small SVG image: a real image format this service does not accept. */
export const SVG_BYTES = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>');

/** Plain text. */
export const TEXT_BYTES = new TextEncoder().encode("this is not an image, whatever the content type says\n".repeat(20));
