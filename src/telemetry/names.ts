/**
 * Every span name and span attribute this service emits that dashboards, alerts or the TraceQL
 * cookbook may query. Dashboards are checked against this list by a test, so a name used there
 * must be listed here — and a name listed here must really be emitted by the code.
 *
 * @example
 * tracedSpan(SPAN.searchVector, {}, () => retrieve());
 */
export const SPAN = {
  searchExpand: "search.expand",
  searchEmbed: "search.embed",
  searchVector: "search.vector",
  searchFulltext: "search.fulltext",
  searchFuse: "search.fuse",
  searchRerank: "search.rerank",
  ingestDecode: "ingest.decode",
  ingestPalette: "ingest.palette",
  ingestLabel: "ingest.label",
  ingestEmbed: "ingest.embed",
  /** Root span of one file in the bulk ingest and seed CLIs (the HTTP path's root is the request). */
  ingestFile: "ingest.file",
  generationClassify: "generation.classify",
  generationInjection: "generation.injection",
  generationPromptBuild: "generation.prompt_build",
  generationGeminiApi: "generation.gemini_api",
  generationStore: "generation.store",
  storagePut: "storage.put",
  storageGet: "storage.get",
} as const;

export type SpanName = (typeof SPAN)[keyof typeof SPAN];

/** Span names of the search pipeline, in pipeline order. */
export const SEARCH_STAGES = [
  SPAN.searchExpand,
  SPAN.searchEmbed,
  SPAN.searchVector,
  SPAN.searchFulltext,
  SPAN.searchFuse,
  SPAN.searchRerank,
] as const;

/** Span names of the generation pipeline, in pipeline order. */
export const GENERATION_STAGES = [
  SPAN.generationClassify,
  SPAN.generationInjection,
  SPAN.generationPromptBuild,
  SPAN.generationGeminiApi,
  SPAN.generationStore,
] as const;

/** Span names of the ingest pipeline, in pipeline order. */
export const INGEST_STAGES = [SPAN.ingestDecode, SPAN.ingestPalette, SPAN.ingestLabel, SPAN.ingestEmbed] as const;

/** Attributes every `tracedSpan` sets from process readings (process-wide figures). */
export const PROCESS_ATTR = {
  cpuUserMs: "process.cpu_user_ms",
  cpuSystemMs: "process.cpu_system_ms",
  memoryMb: "process.memory_mb",
  memoryDeltaKb: "process.memory_delta_kb",
} as const;

/** Attributes of the root SERVER span (stable HTTP semantic conventions). */
export const HTTP_ATTR = {
  method: "http.request.method",
  route: "http.route",
  status: "http.response.status_code",
  urlPath: "url.path",
  urlScheme: "url.scheme",
  serverAddress: "server.address",
  userAgent: "user_agent.original",
  errorType: "error.type",
} as const;

/** Attributes of database CLIENT spans (database semantic conventions). */
export const DB_ATTR = {
  system: "db.system.name",
  operation: "db.operation.name",
  collection: "db.collection.name",
  queryText: "db.query.text",
} as const;

/** Attributes of the model call span (GenAI semantic conventions). */
export const GENAI_ATTR = {
  operation: "gen_ai.operation.name",
  requestModel: "gen_ai.request.model",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
} as const;

/**
 * Attributes and the event a search stage span carries when a model helper failed or timed out
 * and the stage fell back (offline path) or was dropped; the answer lists the stage in `degraded`.
 */
export const SEARCH_ATTR = {
  degraded: "search.degraded",
  degradedReason: "search.degraded.reason",
  /** The event's name (one event per fallback, with a `reason` attribute). */
  degradedEvent: "search.degraded",
} as const;

/**
 * The wire type of every numeric attribute above. TraceQL compares a number literal only with
 * values of the same type (`> 200` never matches a double, grafana/tempo#4332), so the encoder
 * sends the `double` ones as doubles even when whole, and queries compare them with float
 * literals (`> 200.0`); `test/telemetry-traceql.test.ts` checks every query against this table.
 *
 * @example
 * NUMERIC_ATTRIBUTE_TYPES["process.cpu_user_ms"]; // "double"
 */
export const NUMERIC_ATTRIBUTE_TYPES: Readonly<Record<string, "int" | "double">> = {
  [PROCESS_ATTR.cpuUserMs]: "double",
  [PROCESS_ATTR.cpuSystemMs]: "double",
  [PROCESS_ATTR.memoryMb]: "double",
  [PROCESS_ATTR.memoryDeltaKb]: "int",
  [HTTP_ATTR.status]: "int",
  [GENAI_ATTR.inputTokens]: "int",
  [GENAI_ATTR.outputTokens]: "int",
};

/**
 * Attribute keys whose numbers are always exported as OTLP doubles, even when whole.
 *
 * @example
 * new OtlpTraceEncoder(DOUBLE_ATTRIBUTES);
 */
export const DOUBLE_ATTRIBUTES: ReadonlySet<string> = new Set(
  Object.entries(NUMERIC_ATTRIBUTE_TYPES)
    .filter(([, type]) => type === "double")
    .map(([key]) => key),
);

/** Every span name above, for checks. */
export const ALL_SPAN_NAMES: readonly string[] = Object.values(SPAN);

/** Every attribute key above, for checks. */
export const ALL_ATTRIBUTES: readonly string[] = [
  ...Object.values(PROCESS_ATTR),
  ...Object.values(HTTP_ATTR),
  ...Object.values(DB_ATTR),
  ...Object.values(GENAI_ATTR),
  SEARCH_ATTR.degraded,
  SEARCH_ATTR.degradedReason,
];
