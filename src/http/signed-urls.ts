/**
 * Short-lived signed URLs for image bytes. With `API_KEYS` set and `PUBLIC_READS=false` every read
 * needs a key, but a browser's `<img src>` cannot send one. So the records a client reads (with its
 * key) carry their image URLs signed, `…/thumbnail?expires=<unix s>&signature=<hmac>`, and the auth
 * middleware admits a GET of exactly that path until it expires.
 *
 * Why not have the page fetch the bytes with its key and show blob URLs: the file routes redirect
 * to presigned S3 URLs, which a `fetch` could follow only with CORS on the bucket, and every image
 * would sit in page memory. A signed URL keeps `<img>` plain (lazy loading, the HTTP cache, the S3
 * redirect) and never puts the key itself in a URL.
 */
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { AppConfig } from "../config.ts";

/** The paths a signed URL may open: an image's bytes and thumbnail, a generation's image. */
const SIGNABLE = /^\/api\/(?:images\/[^/?#]+\/(?:file|thumbnail)|generations\/[^/?#]+\/image)$/;

/**
 * Whether a path (or a route pattern) is one a signed URL may open.
 *
 * @example
 * signable("/api/images/:id/thumbnail") // true
 */
export const signable = (path: string): boolean => SIGNABLE.test(path);

/**
 * A URL signed during one window expires at the end of the next: it lives between one and two
 * windows, and the same image keeps the same URL for a whole window (so the browser cache serves
 * it again).
 */
export const SIGNED_URL_WINDOW_SECONDS = 3600;

/** 128 bits of HMAC-SHA256, base64url: 22 characters. */
const SIGNATURE_BYTES = 16;

/**
 * True when image URLs are signed: keys are set and reads need one.
 *
 * @example
 * signsImageUrls({ apiKeys: ["k"], publicReads: false }) // true
 */
export function signsImageUrls(config: Pick<AppConfig, "apiKeys" | "publicReads">): boolean {
  return config.apiKeys.length > 0 && !config.publicReads;
}

/** Signs image paths and checks signed ones. */
export interface UrlSigner {
  /** `path` with `?expires=…&signature=…`; any other path is returned as it is. */
  sign(path: string): string;
  /** The expiry (unix seconds) when `expires` and `signature` sign `path` and it has not passed; else undefined. */
  verify(path: string, expires: string | undefined, signature: string | undefined): number | undefined;
}

/**
 * A signer keyed by the API keys (through HKDF, order-free): every instance sharing `API_KEYS`
 * accepts the others' URLs, and taking a key out of `API_KEYS` voids every URL signed before.
 *
 * @example
 * const signer = createUrlSigner(["k1"]);
 * signer.sign("/api/images/0190…/thumbnail") // "/api/images/0190…/thumbnail?expires=1767225600&signature=Qm9v…"
 */
export function createUrlSigner(apiKeys: readonly string[], now: () => number = Date.now): UrlSigner {
  if (apiKeys.length === 0) throw new Error("signed URLs need API_KEYS");
  const secret = Buffer.from(hkdfSync("sha256", [...apiKeys].sort().join("\n"), "", "hybrid-image-search signed image urls", 32));
  const mac = (path: string, expires: number) => createHmac("sha256", secret).update(`${path}\n${expires}`).digest().subarray(0, SIGNATURE_BYTES);
  return {
    sign(path) {
      if (!signable(path)) return path;
      const window = Math.floor(now() / 1000 / SIGNED_URL_WINDOW_SECONDS);
      const expires = (window + 2) * SIGNED_URL_WINDOW_SECONDS;
      return `${path}?expires=${expires}&signature=${mac(path, expires).toString("base64url")}`;
    },
    verify(path, expires, signature) {
      if (!signable(path) || !expires || !signature || !/^\d{1,12}$/.test(expires)) return undefined;
      const at = Number(expires);
      if (at <= now() / 1000) return undefined;
      // Compared as text: base64url decoding ignores the spare bits of the last character, so the
      // bytes alone would accept several spellings of one signature.
      const given = Buffer.from(signature);
      const wanted = Buffer.from(mac(path, at).toString("base64url"));
      return given.length === wanted.length && timingSafeEqual(given, wanted) ? at : undefined;
    },
  };
}

/**
 * How the record views write an image path: signed when reads need a key, as it is otherwise.
 *
 * @example
 * const link = imageLink(config);
 * link(`/api/images/${id}/file`) // "/api/images/…/file" or "/api/images/…/file?expires=…&signature=…"
 */
export function imageLink(config: Pick<AppConfig, "apiKeys" | "publicReads">, now: () => number = Date.now): (path: string) => string {
  if (!signsImageUrls(config)) return (path) => path;
  const signer = createUrlSigner(config.apiKeys, now);
  return (path) => signer.sign(path);
}
