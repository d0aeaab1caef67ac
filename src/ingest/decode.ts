/**
 * `ingest.decode`: checks an upload is a real image of an accepted format and size, decodes it
 * once, and produces what the other stages need: the original to store (metadata stripped,
 * orientation applied), a 512 px WebP thumbnail and a small pixel copy for the palette.
 */
import sharp, { type Metadata, type OutputInfo, type Sharp } from "sharp";
import type { AppConfig } from "../config.ts";
import type { StoredMimeType } from "../storage/keys.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { IngestError } from "./errors.ts";

/** Longest side of the stored thumbnail. */
export const THUMBNAIL_SIZE = 512;

export interface DecodedImage {
  mimeType: StoredMimeType;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  /** The original to store: the upload itself, or re-encoded without metadata when it had any. */
  original: Uint8Array;
  /** True when `original` was re-encoded to drop metadata or apply orientation. */
  reencoded: boolean;
  thumbnail: Uint8Array;
  /** The thumbnail's pixels (for the palette and labeler); clone before use. */
  pixels: Sharp;
}

/** The limits decoding enforces. */
export type DecodeLimits = Pick<AppConfig["ingest"], "maxUploadBytes" | "maxImagePixels">;

const isAscii = (bytes: Uint8Array, offset: number, text: string) =>
  bytes.length >= offset + text.length && [...text].every((ch, i) => bytes[offset + i] === ch.charCodeAt(0));

/**
 * The real format of `bytes` from their magic numbers, whatever the client declared; undefined
 * for anything but JPEG, PNG, WebP, AVIF and GIF (SVG, TIFF, HEIC, PDF... are refused).
 *
 * @example
 * sniffImageType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])) // "image/jpeg"
 */
export function sniffImageType(bytes: Uint8Array): StoredMimeType | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (bytes.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => bytes[i] === b)) return "image/png";
  if (isAscii(bytes, 0, "GIF87a") || isAscii(bytes, 0, "GIF89a")) return "image/gif";
  if (isAscii(bytes, 0, "RIFF") && isAscii(bytes, 8, "WEBP")) return "image/webp";
  if (isAscii(bytes, 4, "ftyp") && bytes.length >= 16) {
    const boxSize = Math.min(bytes.length, ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0);
    for (let offset = 8; offset + 4 <= boxSize; offset += 4) {
      if (offset === 12) continue;
      if (isAscii(bytes, offset, "avif") || isAscii(bytes, offset, "avis")) return "image/avif";
    }
  }
  return undefined;
}

const SHARP_FORMAT: Record<StoredMimeType, string> = {
  "image/jpeg": "jpeg",
  "image/png": "png",
  "image/webp": "webp",
  "image/avif": "heif",
  "image/gif": "gif",
};

function hasPrivateMetadata(meta: Metadata): boolean {
  return Boolean(meta.exif || meta.xmp || meta.iptc || (meta.comments && meta.comments.length > 0) || (meta.orientation && meta.orientation !== 1));
}

/** Re-encodes without EXIF/XMP/IPTC (location, camera serials...), keeping the colour profile. */
async function stripMetadata(bytes: Uint8Array, mimeType: StoredMimeType, limitInputPixels: number): Promise<Uint8Array> {
  const animated = mimeType === "image/gif" || mimeType === "image/webp";
  const image = sharp(bytes, { failOn: "error", limitInputPixels, animated }).rotate().keepIccProfile();
  switch (mimeType) {
    case "image/jpeg":
      return image.jpeg({ quality: 92, chromaSubsampling: "4:4:4" }).toBuffer();
    case "image/png":
      return image.png({ compressionLevel: 6 }).toBuffer();
    case "image/webp":
      return image.webp({ quality: 92 }).toBuffer();
    case "image/avif":
      return image.avif({ quality: 80, effort: 2 }).toBuffer();
    case "image/gif":
      return image.gif().toBuffer();
  }
}

function invalid(error: unknown): IngestError {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return new IngestError("too_many_pixels", "the image has more pixels than this service accepts");
  return new IngestError("invalid_image", "the image could not be decoded (truncated or corrupt)");
}

/**
 * Validates and decodes an upload. Throws `IngestError` (4xx) for an empty or oversized file,
 * bytes that are not an accepted image format, a header claiming more than
 * `config.ingest.maxImagePixels` pixels (refused before any pixel is decoded), or a truncated or
 * corrupt image.
 *
 * @example
 * const decoded = await decodeImage(config.ingest, bytes);
 */
export async function decodeImage(limits: DecodeLimits, bytes: Uint8Array): Promise<DecodedImage> {
  if (bytes.byteLength === 0) throw new IngestError("empty_file", "the file is empty");
  if (bytes.byteLength > limits.maxUploadBytes) {
    throw new IngestError("payload_too_large", `the file is larger than ${limits.maxUploadBytes} bytes`);
  }
  const mimeType = sniffImageType(bytes);
  if (!mimeType) throw new IngestError("unsupported_image_type", "the file is not a JPEG, PNG, WebP, AVIF or GIF image");
  const limitInputPixels = limits.maxImagePixels;

  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels }).metadata();
  } catch (error) {
    throw invalid(error);
  }
  if (meta.format !== SHARP_FORMAT[mimeType] || (mimeType === "image/avif" && meta.compression !== "av1")) {
    throw new IngestError("unsupported_image_type", "the file is not a JPEG, PNG, WebP, AVIF or GIF image");
  }
  const pages = meta.pages ?? 1;
  const pageHeight = meta.pageHeight ?? meta.height ?? 0;
  if (!meta.width || !pageHeight) throw new IngestError("invalid_image", "the image has no size");
  if (meta.width * pageHeight * pages > limitInputPixels) {
    throw new IngestError("too_many_pixels", "the image has more pixels than this service accepts");
  }

  let small: { data: Buffer; info: OutputInfo };
  try {
    small = await sharp(bytes, { failOn: "error", limitInputPixels })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: "inside", withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw invalid(error);
  }
  const { width: tw, height: th, channels } = small.info;
  const pixels = sharp(small.data, { raw: { width: tw, height: th, channels: channels as 1 | 2 | 3 | 4 } });
  // effort 2 halves the encoder's CPU against the default 4 for the same size at 512 px.
  const thumbnail = await pixels.clone().webp({ quality: 80, effort: 2 }).toBuffer();

  const reencoded = hasPrivateMetadata(meta);
  let original: Uint8Array = bytes;
  if (reencoded) {
    try {
      original = await stripMetadata(bytes, mimeType, limitInputPixels);
    } catch (error) {
      throw invalid(error);
    }
  }
  const oriented = pages === 1 && meta.autoOrient ? meta.autoOrient : { width: meta.width, height: pageHeight };
  return {
    mimeType,
    width: oriented.width,
    height: oriented.height,
    original,
    reencoded,
    thumbnail,
    pixels,
  };
}

/**
 * The `ingest.decode` stage: `decodeImage` in its span, with format, size and byte counts.
 *
 * @example
 * const decoded = await decodeStage(telemetry, config.ingest, bytes);
 */
export function decodeStage(telemetry: Telemetry, limits: DecodeLimits, bytes: Uint8Array): Promise<DecodedImage> {
  return telemetry.tracedSpan(SPAN.ingestDecode, { "image.upload_bytes": bytes.byteLength }, async (span) => {
    const decoded = await decodeImage(limits, bytes);
    span.setAttributes({
      "image.mime_type": decoded.mimeType,
      "image.width": decoded.width,
      "image.height": decoded.height,
      "image.stored_bytes": decoded.original.byteLength,
      "image.reencoded": decoded.reencoded,
    });
    return decoded;
  });
}
