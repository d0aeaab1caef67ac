/**
 * Telemetry settings, resolved once from the environment. Resolution never throws: a bad value
 * becomes a warning and a safe default, because telemetry must never stop the service.
 */
export type SamplerName =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

export interface BatchSettings {
  /** Spans held in memory waiting for export; past this, new spans are dropped and counted. */
  maxQueueSize: number;
  /** Spans per OTLP request. */
  maxExportBatchSize: number;
  /** Longest a span waits before its batch is sent. */
  scheduledDelayMs: number;
  /** An export that takes longer is abandoned and its spans counted as dropped. */
  exportTimeoutMs: number;
  /** Export requests in flight at once. */
  maxConcurrentExports: number;
}

export interface TelemetryConfig {
  enabled: boolean;
  serviceName: string;
  serviceVersion: string;
  environment: string;
  resourceAttributes: Record<string, string>;
  /** Full OTLP/HTTP traces URL, e.g. `http://localhost:4318/v1/traces`. */
  endpoint: string;
  headers: Record<string, string>;
  sampler: SamplerName;
  samplerArg: number;
  batch: BatchSettings;
  /** How stale a memory reading may be before `tracedSpan` takes a fresh one. */
  memoryReadingMaxAgeMs: number;
}

export const DEFAULT_BATCH: BatchSettings = {
  maxQueueSize: 16_384,
  maxExportBatchSize: 1_024,
  scheduledDelayMs: 1_000,
  exportTimeoutMs: 10_000,
  maxConcurrentExports: 2,
};

export const DEFAULT_TELEMETRY: TelemetryConfig = {
  enabled: true,
  serviceName: "hybrid-image-search",
  serviceVersion: "0.0.0",
  environment: "development",
  resourceAttributes: {},
  endpoint: "http://localhost:4318/v1/traces",
  headers: {},
  sampler: "parentbased_always_on",
  samplerArg: 1,
  batch: DEFAULT_BATCH,
  memoryReadingMaxAgeMs: 1,
};

const SAMPLERS = new Set<string>([
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
]);

/** Parses a W3C Baggage-style `k=v,k2=v2` list (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
export function parseKeyValueList(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  const parts = raw.split(",");
  for (const [index, part] of parts.entries()) {
    const item = part.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    // Never quote the entry: without an "=", all of it may be a credential.
    if (eq <= 0) throw new Error(`entry ${index + 1} of ${parts.length} is not key=value`);
    const key = decodeURIComponent(item.slice(0, eq).trim());
    const value = decodeURIComponent(item.slice(eq + 1).trim());
    if (key === "") throw new Error("empty key");
    out[key] = value;
  }
  return out;
}

function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number, warn: (m: string) => void) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    warn(`${name}=${JSON.stringify(raw)} is not a positive integer; using ${fallback}`);
    return fallback;
  }
  return n;
}

/**
 * Reads the standard OpenTelemetry variables. Returns the settings and the warnings for values
 * that were ignored; never throws.
 *
 * @example
 * const { config, warnings } = resolveTelemetryConfig(process.env, { serviceVersion: "1.2.0" });
 */
export function resolveTelemetryConfig(
  env: Record<string, string | undefined>,
  defaults: Partial<TelemetryConfig> = {},
): { config: TelemetryConfig; warnings: string[] } {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const base: TelemetryConfig = { ...DEFAULT_TELEMETRY, ...defaults, batch: { ...DEFAULT_BATCH, ...defaults.batch } };

  const disabled = (env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase();
  const enabled = disabled === "" ? base.enabled : disabled !== "true";

  let resourceAttributes: Record<string, string> = { ...base.resourceAttributes };
  if (env.OTEL_RESOURCE_ATTRIBUTES) {
    try {
      resourceAttributes = { ...resourceAttributes, ...parseKeyValueList(env.OTEL_RESOURCE_ATTRIBUTES) };
    } catch (err) {
      warn(`OTEL_RESOURCE_ATTRIBUTES ignored: ${(err as Error).message}`);
    }
  }

  let headers: Record<string, string> = { ...base.headers };
  for (const name of ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] as const) {
    const raw = env[name];
    if (!raw) continue;
    // Like the OpenTelemetry SDK, keep the well-formed entries and skip the rest.
    const parts = raw.split(",");
    for (const [index, part] of parts.entries()) {
      try {
        headers = { ...headers, ...parseKeyValueList(part) };
      } catch (err) {
        // Never echo the value: headers usually carry credentials.
        warn(`${name} entry ${index + 1} of ${parts.length} ignored: ${(err as Error).message.replace(/^entry 1 of 1 is /, "")}`);
      }
    }
  }

  let endpoint = base.endpoint;
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const generalEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const candidate = tracesEndpoint || (generalEndpoint ? generalEndpoint.replace(/\/+$/, "") + "/v1/traces" : "");
  if (candidate) {
    try {
      const url = new URL(candidate);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)");
      endpoint = url.toString();
    } catch {
      const name = tracesEndpoint ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT";
      warn(`${name} is not an http(s) URL; using ${endpoint}`);
    }
  }

  let sampler = base.sampler;
  const rawSampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (rawSampler) {
    if (SAMPLERS.has(rawSampler)) sampler = rawSampler as SamplerName;
    else warn(`OTEL_TRACES_SAMPLER=${JSON.stringify(rawSampler)} is not supported; using ${sampler}`);
  }
  let samplerArg = base.samplerArg;
  const rawArg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (rawArg) {
    const n = Number(rawArg);
    if (Number.isFinite(n) && n >= 0 && n <= 1) samplerArg = n;
    else warn(`OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(rawArg)} must be a number in [0, 1]; using ${samplerArg}`);
  }

  const batch: BatchSettings = {
    maxQueueSize: positiveInt(env, "OTEL_BSP_MAX_QUEUE_SIZE", base.batch.maxQueueSize, warn),
    maxExportBatchSize: positiveInt(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", base.batch.maxExportBatchSize, warn),
    scheduledDelayMs: positiveInt(env, "OTEL_BSP_SCHEDULE_DELAY", base.batch.scheduledDelayMs, warn),
    exportTimeoutMs: positiveInt(env, "OTEL_BSP_EXPORT_TIMEOUT", base.batch.exportTimeoutMs, warn),
    maxConcurrentExports: base.batch.maxConcurrentExports,
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize) batch.maxExportBatchSize = batch.maxQueueSize;

  const serviceName = env.OTEL_SERVICE_NAME?.trim() || resourceAttributes["service.name"] || base.serviceName;
  const environment =
    env.DEPLOYMENT_ENV?.trim() || resourceAttributes["deployment.environment.name"] || base.environment;

  return {
    config: { ...base, enabled, serviceName, environment, resourceAttributes, endpoint, headers, sampler, samplerArg, batch },
    warnings,
  };
}
