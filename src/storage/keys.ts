/**
 * The key layout of the blob store. Every key is built here from a service-made uuid, a known
 * extension and a validated category; a client's file name never reaches a key.
 */
import { InvalidKeyError } from "./types.ts";

/** Image roles and the pools they belong to. */
export type ImageRole = "corpus" | "tone-ref" | "angle-ref";

/** Formats the service stores, with their key extension. */
export const EXTENSION_BY_MIME = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
  "image/avif": "avif",
  "image/gif": "gif",
} as const;

export type StoredMimeType = keyof typeof EXTENSION_BY_MIME;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SEGMENT = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const CATEGORY = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Category used in reference keys when an image has none. */
export const UNCATEGORIZED = "uncategorized";

/**
 * Turns a free-text category into a key-safe slug (`"Street Food!"` → `"street-food"`), or
 * undefined when nothing usable is left.
 *
 * @example
 * slugifyCategory("  Natural Light ") // "natural-light"
 */
export function slugifyCategory(category: string): string | undefined {
  const slug = category
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/, "");
  return slug === "" ? undefined : slug;
}

function requireUuid(id: string): string {
  if (!UUID.test(id)) throw new InvalidKeyError(id);
  return id;
}

function requireCategory(category: string | undefined): string {
  const slug = category === undefined ? UNCATEGORIZED : slugifyCategory(category) ?? UNCATEGORIZED;
  if (!CATEGORY.test(slug)) throw new InvalidKeyError(slug);
  return slug;
}

/**
 * The key of an uploaded original: the role picks the pool (`uploads/`, `refs/tone/<category>/`,
 * `refs/angle/<category>/`).
 *
 * @example
 * originalKey({ id: crypto.randomUUID(), mimeType: "image/jpeg", role: "tone-ref", category: "natural" })
 * // "refs/tone/natural/<uuid>.jpg"
 */
export function originalKey(input: { id: string; mimeType: StoredMimeType; role: ImageRole; category?: string | null }): string {
  const id = requireUuid(input.id);
  const ext = EXTENSION_BY_MIME[input.mimeType];
  if (!ext) throw new InvalidKeyError(String(input.mimeType));
  switch (input.role) {
    case "corpus":
      return `uploads/${id}.${ext}`;
    case "tone-ref":
      return `refs/tone/${requireCategory(input.category ?? undefined)}/${id}.${ext}`;
    case "angle-ref":
      return `refs/angle/${requireCategory(input.category ?? undefined)}/${id}.${ext}`;
    default:
      throw new InvalidKeyError(String(input.role));
  }
}

/**
 * The key of an image's WebP thumbnail.
 *
 * @example
 * thumbnailKey(id) // "thumbnails/<uuid>.webp"
 */
export function thumbnailKey(id: string): string {
  return `thumbnails/${requireUuid(id)}.webp`;
}

/**
 * The key of a generated image.
 *
 * @example
 * generatedKey(generationId) // "generated/<uuid>.png"
 */
export function generatedKey(id: string, ext: "png" | "jpg" | "webp" = "png"): string {
  return `generated/${requireUuid(id)}.${ext}`;
}

/**
 * The prefix holding one reference pool, for `list`.
 *
 * @example
 * refPrefix("tone-ref", "natural") // "refs/tone/natural/"
 */
export function refPrefix(role: "tone-ref" | "angle-ref", category?: string): string {
  const pool = role === "tone-ref" ? "refs/tone/" : "refs/angle/";
  return category === undefined ? pool : `${pool}${requireCategory(category)}/`;
}

/**
 * Throws `InvalidKeyError` unless `key` is a relative path of lower-case safe segments: no `..`,
 * no leading slash, no backslash, nothing a filesystem or URL could reinterpret.
 *
 * @example
 * assertValidKey("uploads/0d9c5c1e-….jpg");
 */
export function assertValidKey(key: string): void {
  if (key.length === 0 || key.length > 512) throw new InvalidKeyError(key);
  for (const segment of key.split("/")) {
    if (!SEGMENT.test(segment) || segment.includes("..")) throw new InvalidKeyError(key);
  }
}

/**
 * Validates a `list` prefix: empty, or valid key segments optionally ending in `/`.
 *
 * @example
 * assertValidPrefix("refs/tone/");
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix === "") return;
  assertValidKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}
