import { availableParallelism } from "node:os";
import { z } from "zod";
import { resolveTelemetryConfig, type TelemetryConfig } from "./telemetry/config.ts";
import type { LogLevel } from "./log.ts";
import pkg from "../package.json" with { type: "json" };

/** A setting that stops startup; the message names the variable, never a secret value. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ["true", "false", "1", "0", "yes", "no"].includes(v), "must be true or false")
  .transform((v) => v === "true" || v === "1" || v === "yes");

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const num = (min: number, max: number) =>
  z
    .string()
    .trim()
    .refine((v) => v !== "" && Number.isFinite(Number(v)), "must be a number")
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const url = z.string().trim().url("must be a URL");

/** Each variable, its parser and its default. Telemetry variables are resolved separately. */
const schema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().trim().min(1).default("0.0.0.0"),
  DATA_DIR: z.string().trim().min(1).default("./data"),
  DATABASE_URL: z
    .string()
    .trim()
    .refine(
      (v) => v === "memory://" || /^postgres(ql)?:\/\//.test(v),
      "must be memory:// or a postgres:// / postgresql:// URL",
    )
    .optional(),
  DB_MIGRATE_ON_START: bool.default(true),
  DB_MAINTENANCE_INTERVAL_MS: int(0, 86_400_000).default(60_000),
  S3_BUCKET: z.string().trim().min(1).optional(),
  S3_ENDPOINT: url.optional(),
  S3_REGION: z.string().trim().min(1).default("us-east-1"),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_PRESIGN_TTL_SECONDS: int(1, 604800).default(900),
  GEMINI_API_KEY: z.string().trim().min(1).optional(),
  GEMINI_BASE_URL: url.optional(),
  GEMINI_TEXT_MODEL: z.string().trim().min(1).default("gemini-2.5-flash"),
  GEMINI_IMAGE_MODEL: z.string().trim().min(1).default("gemini-2.5-flash-image"),
  GEMINI_EMBEDDING_MODEL: z.string().trim().min(1).default("gemini-embedding-001"),
  GEMINI_TIMEOUT_MS: int(100, 600_000).default(120_000),
  GEMINI_AUX_TIMEOUT_MS: int(50, 60_000).default(4_000),
  GENERATION_CONCURRENCY: int(1, 64).default(4),
  GENERATION_QUEUE_LIMIT: int(0, 10_000).default(16),
  MAX_UPLOAD_BYTES: int(1, 1_073_741_824).default(20 * 1024 * 1024),
  MAX_IMAGE_PIXELS: int(1, 1_000_000_000).default(50_000_000),
  UPLOAD_CONCURRENCY: int(1, 256).optional(),
  UPLOAD_QUEUE_LIMIT: int(0, 10_000).default(32),
  SEARCH_RRF_K: int(1, 1000).default(60),
  SEARCH_TEXT_WEIGHT: num(0, 10).default(1),
  SEARCH_VECTOR_WEIGHT: num(0, 10).default(1),
  SEARCH_OVERFETCH: num(1, 10).default(3),
  SEARCH_RERANK_WEIGHT: num(0, 1).default(0.5),
  SEARCH_RERANK_TOP_N: int(1, 200).default(30),
  SEARCH_COLOR_THRESHOLD: num(0, 100).default(20),
  SEARCH_COLOR_WORD_WEIGHT: num(0, 10).default(1),
  SEARCH_HNSW_EF_SEARCH: int(1, 1000).default(80),
  SEARCH_VOCABULARY_REFRESH_MS: int(0, 3_600_000).default(1000),
  SEARCH_VECTORS_WAIT_MS: int(0, 120_000).default(1000),
  WORD_VECTORS_CACHE_DIR: z.string().trim().min(1).optional(),
  API_KEYS: z
    .string()
    .trim()
    .refine(
      (v) => v.split(",").every((k) => k.trim() === "" || /^[A-Za-z0-9._~+/-]+=*$/.test(k.trim())),
      "each key must be a bearer token (letters, digits and . _ ~ + / - only)",
    )
    .optional(),
  PUBLIC_READS: bool.default(true),
  MAX_JSON_BYTES: int(1, 1_073_741_824).default(64 * 1024),
  HTTP_IDLE_TIMEOUT_SECONDS: int(1, 255).default(120),
  RATE_LIMIT_SEARCH_PER_MINUTE: int(0, 1_000_000).default(600),
  RATE_LIMIT_GENERATE_PER_MINUTE: int(0, 1_000_000).default(30),
  TRUSTED_PROXIES: int(0, 10).default(0),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  SHUTDOWN_GRACE_MS: int(0, 120_000).default(10_000),
  GRAFANA_URL: url.refine((v) => /^https?:\/\//i.test(v), "must be an http:// or https:// URL").optional(),
  GRAFANA_TEMPO_UID: z.string().trim().regex(/^[\w.-]{1,64}$/, "must be a Grafana data source uid (letters, digits, ., _, -)").optional(),
  RECONCILE_GRACE_MS: int(0, 604_800_000).default(900_000),
});

export type Env = z.infer<typeof schema>;

export interface AppConfig {
  port: number;
  host: string;
  dataDir: string;
  /** Unset: PGlite under dataDir; `memory://`: in-memory PGlite; a postgres URL: Neon driver. */
  databaseUrl: string | undefined;
  migrateOnStart: boolean;
  /** How often the service checks whether the embedded database needs VACUUM ANALYZE (0: never). */
  maintenanceIntervalMs: number;
  s3: { bucket: string; endpoint: string | undefined; region: string; forcePathStyle: boolean; presignTtlSeconds: number } | undefined;
  gemini: {
    apiKey: string | undefined;
    baseUrl: string | undefined;
    textModel: string;
    imageModel: string;
    embeddingModel: string;
    timeoutMs: number;
    auxTimeoutMs: number;
  };
  generation: { concurrency: number; queueLimit: number };
  ingest: {
    maxUploadBytes: number;
    maxImagePixels: number;
    /** Uploads read and decoded at once (default: the number of cores). */
    uploadConcurrency: number;
    /** Uploads waiting for a slot; past it, 503 with `Retry-After`. */
    uploadQueueLimit: number;
  };
  /** Where the binary copy of the offline word vectors lives; unset: `node_modules/.cache`, else the temp dir. */
  wordVectorsCacheDir: string | undefined;
  search: {
    rrfK: number;
    textWeight: number;
    vectorWeight: number;
    overfetch: number;
    rerankWeight: number;
    rerankTopN: number;
    colorThreshold: number;
    /** Fusion weight of colour words in the query matched against palettes (0 = off). */
    colorWordWeight: number;
    efSearch: number;
    /** How old the corpus vocabulary copy may get before a search starts a (background) check; 0: every search checks. */
    vocabularyRefreshMs: number;
    /** How long a search waits for the offline word vectors (first start) before it goes on without them. */
    vectorsWaitMs: number;
  };
  apiKeys: string[];
  /** False: listing and fetching images and generations need a key too (see `src/http/auth.ts`). */
  publicReads: boolean;
  limits: {
    maxJsonBytes: number;
    /** A connection silent this long is closed (Bun's `idleTimeout`, at most 255); a generation lifts it while it runs. */
    idleTimeoutSeconds: number;
  };
  /** Requests a minute per API key (per client address without keys); 0 = off. */
  rateLimits: { searchPerMinute: number; generatePerMinute: number };
  /** Reverse proxies in front whose `X-Forwarded-For` entry names the client; 0 = use the socket address. */
  trustedProxies: number;
  logLevel: LogLevel;
  shutdownGraceMs: number;
  /** Grafana base URL; when set, the web app links trace ids to Grafana Explore. */
  grafanaUrl: string | undefined;
  /** Uid of the Tempo data source those links open (unset: Grafana's default data source). */
  grafanaTempoUid: string | undefined;
  /** Shared stores (S3, Neon): leftovers younger than this may be another instance's write in flight. */
  reconcileGraceMs: number;
  version: string;
  telemetry: TelemetryConfig;
  /** Telemetry settings that were ignored; logged once at startup. */
  telemetryWarnings: string[];
}

/**
 * Reads every setting from the environment. A bad value throws a `ConfigError` naming the
 * variable; telemetry settings never throw (they become warnings).
 *
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const present: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") present[key] = value;
  }
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? "environment");
    throw new ConfigError(variable, issue.message);
  }
  const e = parsed.data;
  if ((e.S3_ENDPOINT || env.S3_FORCE_PATH_STYLE) && !e.S3_BUCKET) {
    throw new ConfigError("S3_BUCKET", "must be set when S3_ENDPOINT or S3_FORCE_PATH_STYLE is set");
  }
  const apiKeys = (e.API_KEYS ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
  if (!e.PUBLIC_READS && apiKeys.length === 0) {
    throw new ConfigError("PUBLIC_READS", "false needs API_KEYS: without keys every read would still be public");
  }
  const { config: telemetry, warnings } = resolveTelemetryConfig(env, { serviceVersion: pkg.version });
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    migrateOnStart: e.DB_MIGRATE_ON_START,
    maintenanceIntervalMs: e.DB_MAINTENANCE_INTERVAL_MS,
    s3: e.S3_BUCKET
      ? {
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT,
          region: e.S3_REGION,
          forcePathStyle: e.S3_FORCE_PATH_STYLE,
          presignTtlSeconds: e.S3_PRESIGN_TTL_SECONDS,
        }
      : undefined,
    gemini: {
      apiKey: e.GEMINI_API_KEY,
      baseUrl: e.GEMINI_BASE_URL,
      textModel: e.GEMINI_TEXT_MODEL,
      imageModel: e.GEMINI_IMAGE_MODEL,
      embeddingModel: e.GEMINI_EMBEDDING_MODEL,
      timeoutMs: e.GEMINI_TIMEOUT_MS,
      auxTimeoutMs: e.GEMINI_AUX_TIMEOUT_MS,
    },
    generation: { concurrency: e.GENERATION_CONCURRENCY, queueLimit: e.GENERATION_QUEUE_LIMIT },
    ingest: {
      maxUploadBytes: e.MAX_UPLOAD_BYTES,
      maxImagePixels: e.MAX_IMAGE_PIXELS,
      uploadConcurrency: e.UPLOAD_CONCURRENCY ?? availableParallelism(),
      uploadQueueLimit: e.UPLOAD_QUEUE_LIMIT,
    },
    wordVectorsCacheDir: e.WORD_VECTORS_CACHE_DIR,
    search: {
      rrfK: e.SEARCH_RRF_K,
      textWeight: e.SEARCH_TEXT_WEIGHT,
      vectorWeight: e.SEARCH_VECTOR_WEIGHT,
      overfetch: e.SEARCH_OVERFETCH,
      rerankWeight: e.SEARCH_RERANK_WEIGHT,
      rerankTopN: e.SEARCH_RERANK_TOP_N,
      colorThreshold: e.SEARCH_COLOR_THRESHOLD,
      colorWordWeight: e.SEARCH_COLOR_WORD_WEIGHT,
      efSearch: e.SEARCH_HNSW_EF_SEARCH,
      vocabularyRefreshMs: e.SEARCH_VOCABULARY_REFRESH_MS,
      vectorsWaitMs: e.SEARCH_VECTORS_WAIT_MS,
    },
    apiKeys,
    publicReads: e.PUBLIC_READS,
    limits: { maxJsonBytes: e.MAX_JSON_BYTES, idleTimeoutSeconds: e.HTTP_IDLE_TIMEOUT_SECONDS },
    rateLimits: { searchPerMinute: e.RATE_LIMIT_SEARCH_PER_MINUTE, generatePerMinute: e.RATE_LIMIT_GENERATE_PER_MINUTE },
    trustedProxies: e.TRUSTED_PROXIES,
    logLevel: e.LOG_LEVEL,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    grafanaUrl: e.GRAFANA_URL?.replace(/\/+$/, ""),
    grafanaTempoUid: e.GRAFANA_TEMPO_UID,
    reconcileGraceMs: e.RECONCILE_GRACE_MS,
    version: pkg.version,
    telemetry,
    telemetryWarnings: warnings,
  };
}
