/**
 * The ingest pipeline: decode → palette and labels → embedding → store, each stage its own span
 * under the caller's (the HTTP request's, or the CLI's) span.
 */
import type { Embedder, Labeler } from "../ai/types.ts";
import type { AppConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { findImageBySha256 } from "../db/images.ts";
import { newId } from "../db/ids.ts";
import { IMAGE_ROLES, type ImageRole } from "../db/schema.ts";
import type { Logger } from "../log.ts";
import type { BlobStore } from "../storage/types.ts";
import { ConcurrencyLimiter } from "../limiter.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { decodeStage } from "./decode.ts";
import { embedStage } from "./embed.ts";
import { IngestError } from "./errors.ts";
import type { HypernymExpander } from "./hypernyms.ts";
import { labelStage, type GivenLabels } from "./label.ts";
import { paletteStage } from "./palette.ts";
import { duplicateOf, storeImage, type StoredImage } from "./store.ts";

/** The outcome of one upload. */
export interface IngestResult extends StoredImage {
  /**
   * Stages that went on without their model (`ingest.label`, `ingest.embed`): the image is stored
   * without those labels or that embedding; `bun run backfill` fills them in. Empty when whole.
   */
  degraded: string[];
}

/** Everything the pipeline uses, passed in (tests build it with fakes or embedded defaults). */
export interface IngestDeps {
  db: Db;
  storage: BlobStore;
  embedder: Embedder;
  /** A vision labeler (Gemini); absent offline. */
  labeler?: Labeler;
  /** WordNet hypernyms for full text (ingest.label); absent: stored without, for the backfill. */
  hypernyms?: HypernymExpander;
  telemetry: Telemetry;
  config: Pick<AppConfig, "ingest"> & { gemini: Pick<AppConfig["gemini"], "auxTimeoutMs"> };
  log?: Logger;
}

/** One upload. */
export interface IngestInput extends GivenLabels {
  bytes: Uint8Array;
  /** Default `corpus`. */
  role?: ImageRole;
  /** The client's file name; stored as information only, never used for a key. */
  originalName?: string;
}

/**
 * sha256 (hex) of an upload; the key the service de-duplicates by.
 *
 * @example
 * const hash = sha256Hex(bytes);
 */
export function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

function cleanName(name: string | undefined): string | null {
  if (!name) return null;
  const base = name.split(/[\\/]/).pop() ?? "";
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, "").trim().slice(0, 255);
  return clean === "" ? null : clean;
}

/**
 * Stores one image: validates and decodes it, finds its palette, labels and embedding, writes
 * the blobs and the rows. The same bytes twice give the stored image, unchanged, with
 * `created: false` and the submitted fields that were not applied (`notApplied`).
 * Throws `IngestError` (4xx) for bad input; nothing is written then. A model that fails or times
 * out (labels, embedding) does not fail the upload: the result lists the stage in `degraded`.
 *
 * @example
 * const { image, created, degraded } = await ingestImage(deps, { bytes, caption: "a red boat", labels: ["boat"], category: "natural" });
 */
export async function ingestImage(deps: IngestDeps, input: IngestInput): Promise<IngestResult> {
  const role = input.role ?? "corpus";
  if (!IMAGE_ROLES.includes(role)) throw new IngestError("invalid_request", `role must be one of ${IMAGE_ROLES.join(", ")}`);
  const { bytes } = input;
  if (bytes.byteLength === 0) throw new IngestError("empty_file", "the file is empty");
  if (bytes.byteLength > deps.config.ingest.maxUploadBytes) {
    throw new IngestError("payload_too_large", `the file is larger than ${deps.config.ingest.maxUploadBytes} bytes`);
  }
  const sha256 = sha256Hex(bytes);
  const existing = await findImageBySha256(deps.db, sha256);
  if (existing) return { ...duplicateOf(existing, input), degraded: [] };

  const decoded = await decodeStage(deps.telemetry, deps.config.ingest, bytes);
  const [hexColors, text] = await Promise.all([
    paletteStage(deps.telemetry, decoded.pixels),
    labelStage(
      { telemetry: deps.telemetry, labeler: deps.labeler, log: deps.log, timeoutMs: deps.config.gemini.auxTimeoutMs, hypernyms: deps.hypernyms },
      input,
      { bytes: decoded.thumbnail, mimeType: "image/webp" },
    ),
  ]);
  const embedded = await embedStage(deps, text);
  const degraded = [...(text.source === "model_failed" ? [SPAN.ingestLabel] : []), ...(embedded.degraded ? [SPAN.ingestEmbed] : [])];
  const stored = await storeImage(deps, {
    id: newId(),
    sha256,
    role,
    originalName: cleanName(input.originalName),
    decoded,
    text,
    hexColors,
    embeddings: embedded.embeddings,
  });
  // A duplicate that won a race is that image, whole or not as it was stored.
  if (!stored.created) return { ...duplicateOf(stored.image, input), degraded: [] };
  return { ...stored, degraded };
}

/**
 * The process's bound on uploads read and decoded at once (`UPLOAD_CONCURRENCY`, default the
 * number of cores) and on those waiting for a slot (`UPLOAD_QUEUE_LIMIT`; past it, 503 with
 * `Retry-After`). A ~20 MB upload costs tens of MB while it is read and decoded: unbounded, 16 at
 * once grew the server by ~700 MB (`bun run bench:upload-memory`).
 *
 * @example
 * const uploads = createUploadLimiter(config.ingest);
 * const permit = await uploads.acquire(request.signal);
 */
export function createUploadLimiter(limits: Pick<AppConfig["ingest"], "uploadConcurrency" | "uploadQueueLimit">): ConcurrencyLimiter {
  return new ConcurrencyLimiter({
    concurrency: limits.uploadConcurrency,
    queueLimit: limits.uploadQueueLimit,
    busyMessage: "too many uploads in progress",
  });
}

/**
 * {@link ingestImage} over an uploaded file (a Web `Blob`): reads its bytes, ingests them, and
 * frees them the moment the pipeline is done.
 *
 * @example
 * const { image, created } = await ingestFile(deps, form.get("file") as File, { caption: "a red boat" });
 */
export async function ingestFile(deps: IngestDeps, file: Blob, input: Omit<IngestInput, "bytes">): Promise<IngestResult> {
  const buffer = await file.arrayBuffer();
  try {
    return await ingestImage(deps, { ...input, bytes: new Uint8Array(buffer) });
  } finally {
    // Detaching frees the bytes now. Left to the collector, a large heap (the word vectors) put
    // it off for seconds: 16 uploads two at a time still grew the server by ~470 MB, ~230 MB
    // with this (bench:upload-memory). Nothing holds the bytes once the pipeline has returned.
    buffer.transfer(0);
  }
}
