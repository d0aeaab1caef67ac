import type { Attributes, SpanContext, SpanKind } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { createLogger, type Logger } from "../log.ts";
import { DEFAULT_TELEMETRY, type TelemetryConfig } from "./config.ts";
import { flushBeforeExit } from "./exit.ts";
import { OtlpHttpExporter } from "./exporter.ts";
import { createMemoryGauge } from "./readings.ts";
import { InMemoryRecorder } from "./recorder.ts";
import { INVALID_SPAN_CONTEXT, NonRecordingSpan, type TelemetrySpan } from "./span.ts";
import { BoundedBatchProcessor, type BatchExporter, type ExportStats } from "./spanprocessor.ts";
import { Recorder } from "./tracer.ts";

export interface StartSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent: a span, a remote context, `null` for a new root; default is the current span. */
  parent?: TelemetrySpan | SpanContext | null;
}

/**
 * The span recorder: its own context store and propagator, spans exported as OTLP protobuf.
 * Nothing is registered globally; pass this object to the middleware and to pipelines.
 */
export interface Telemetry {
  readonly enabled: boolean;
  readonly config: TelemetryConfig;
  startSpan(name: string, options?: StartSpanOptions): TelemetrySpan;
  /** Runs `fn` with `span` as the current span. */
  withSpan<T>(span: TelemetrySpan, fn: () => T): T;
  currentSpan(): TelemetrySpan | undefined;
  /** The current trace id, or undefined outside any span or with telemetry off. */
  currentTraceId(): string | undefined;
  /**
   * Runs `fn` in a child span of the current span (a root span when there is none), sync or
   * async; the span ends on return or throw (exception recorded, rethrown) and carries CPU and
   * memory readings taken around `fn`.
   */
  tracedSpan<T>(name: string, attributes: Attributes, fn: (span: TelemetrySpan) => T, options?: { kind?: SpanKind }): T;
  /** Reads a W3C `traceparent`/`tracestate` from request headers. */
  extract(headers: Headers): SpanContext | undefined;
  /** Writes `traceparent`/`tracestate` for an outgoing call from `span` (default: current). */
  inject(headers: Headers, span?: TelemetrySpan): void;
  /** Export counters; with the in-memory recorder every ended span counts as exported. */
  stats(): ExportStats;
  /** Sends every queued span; resolves when done or after `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes within `timeoutMs`, counts what is still pending as dropped, logs the counts. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface TelemetryExtras {
  log?: Logger;
  /** Tests: finished spans go to this recorder instead of the OTLP exporter. */
  recorder?: InMemoryRecorder;
  /** Replaces the OTLP exporter (benchmarks). */
  exporter?: BatchExporter;
}

const EMPTY_STATS: ExportStats = {
  ended: 0,
  exported: 0,
  dropped: 0,
  droppedQueueFull: 0,
  droppedExportFailed: 0,
  queued: 0,
  inFlight: 0,
  failedExports: 0,
};

const NOOP_SPAN = new NonRecordingSpan(INVALID_SPAN_CONTEXT);

/**
 * A recorder that records nothing (OTEL_SDK_DISABLED=true, or setup failed).
 *
 * @example
 * const telemetry = noopTelemetry();
 * telemetry.tracedSpan("x", {}, () => 1); // 1, nothing recorded
 */
export function noopTelemetry(config: TelemetryConfig = { ...DEFAULT_TELEMETRY, enabled: false }): Telemetry {
  return {
    enabled: false,
    config,
    startSpan: () => NOOP_SPAN,
    withSpan: (_span, fn) => fn(),
    currentSpan: () => undefined,
    currentTraceId: () => undefined,
    tracedSpan: (_name, _attrs, fn) => fn(NOOP_SPAN),
    extract: () => undefined,
    inject: () => {},
    stats: () => ({ ...EMPTY_STATS }),
    flush: async () => {},
    shutdown: async () => {},
  };
}

/**
 * Builds the span recorder from resolved settings. Any failure while setting up gives a working
 * no-op recorder and one warning, never an exception.
 *
 * @example
 * const telemetry = createTelemetry(config.telemetry, { log });
 * app.use(tracing(telemetry));
 */
export function createTelemetry(config: TelemetryConfig, extras: TelemetryExtras = {}): Telemetry {
  const log = extras.log ?? createLogger();
  if (!config.enabled) return noopTelemetry(config);
  try {
    const resource = resourceFromAttributes({
      ...config.resourceAttributes,
      "service.name": config.serviceName,
      "service.version": config.serviceVersion,
      "deployment.environment.name": config.environment,
      "telemetry.sdk.language": "nodejs",
      "telemetry.sdk.name": "hybrid-image-search-recorder",
      "process.runtime.name": "bun",
      "process.runtime.version": Bun.version,
    });
    const scope = { name: config.serviceName, version: config.serviceVersion };
    const sink =
      extras.recorder ??
      new BoundedBatchProcessor(extras.exporter ?? new OtlpHttpExporter(config), config.batch, log, resource, scope, config.endpoint);
    const recorder = new Recorder({ config, resource, scope, sink, gauge: createMemoryGauge(config.memoryReadingMaxAgeMs), log });
    // Tests' in-memory recorders hold nothing to flush.
    if (!extras.recorder) recorder.onShutdownDo(flushBeforeExit(sink));
    return recorder;
  } catch (error) {
    log.warn("telemetry disabled: setup failed", { error: (error as Error).message });
    return noopTelemetry({ ...config, enabled: false });
  }
}

/**
 * A recorder for tests: spans land in memory, synchronously, for `recorder.tree(traceId)`.
 *
 * @example
 * const { telemetry, recorder } = createTestTelemetry();
 */
export function createTestTelemetry(config: Partial<TelemetryConfig> = {}, log?: Logger) {
  const recorder = new InMemoryRecorder();
  const telemetry = createTelemetry({ ...DEFAULT_TELEMETRY, ...config }, { recorder, log: log ?? createLogger({ level: "silent" }) });
  return { telemetry, recorder };
}
