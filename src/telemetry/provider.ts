import { AsyncLocalStorage } from "node:async_hooks";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
// The official OTLP proto exporter, built for its fetch transport (the package's `browser` entry):
// the same serializer and retry logic, but sent with Bun's native fetch (~0.3 µs a span beyond
// serialization here) instead of its node:http emulation (~1–4 µs a span).
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto/build/src/platform/browser/index.js";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  SamplingDecision,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createLogger, type Logger } from "../log.ts";
import { DEFAULT_TELEMETRY, type TelemetryConfig } from "./config.ts";
import { newSpanId, newTraceId } from "./ids.ts";
import { PROCESS_ATTR } from "./names.ts";
import { flushBeforeExit } from "./exit.ts";
import { createMemoryGauge } from "./readings.ts";
import { InMemoryRecorder } from "./recorder.ts";
import { buildSampler } from "./sampling.ts";
import { INVALID_SPAN_CONTEXT, NonRecordingSpan, RecordedSpan, exceptionAttributes, type TelemetrySpan } from "./span.ts";
import { BoundedBatchProcessor, type ExportStats } from "./spanprocessor.ts";

export interface StartSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent: a span, a remote context, `null` for a new root; default is the current span. */
  parent?: TelemetrySpan | SpanContext | null;
}

/**
 * The span recorder: an explicit provider, its own context store and propagator. Nothing is
 * registered globally; pass this object to the middleware and to pipelines.
 */
export interface Telemetry {
  readonly enabled: boolean;
  readonly config: TelemetryConfig;
  /** The SDK provider (resource, sampler, processors), for libraries that want a Tracer. */
  readonly provider: BasicTracerProvider | undefined;
  readonly tracer: Tracer;
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
  stats(): ExportStats;
  /** Sends every queued span; resolves when done or after `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface TelemetryExtras {
  log?: Logger;
  /** Tests: finished spans go to this recorder instead of the OTLP exporter. */
  recorder?: InMemoryRecorder;
  /** Replaces the OTLP exporter (benchmarks). */
  exporter?: SpanExporter;
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

/** A recorder that records nothing (OTEL_SDK_DISABLED=true, or setup failed). */
export function noopTelemetry(config: TelemetryConfig = { ...DEFAULT_TELEMETRY, enabled: false }): Telemetry {
  return {
    enabled: false,
    config,
    provider: undefined,
    tracer: trace.getTracer("noop"),
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

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

function isSpanContext(parent: TelemetrySpan | SpanContext): parent is SpanContext {
  return typeof (parent as SpanContext).traceId === "string";
}

/**
 * The OTLP proto exporter the recorder sends with, for the resolved endpoint, headers and
 * export timeout. Throws when the exporter refuses its options.
 *
 * @example
 * const exporter = createOtlpExporter(config.telemetry);
 */
export function createOtlpExporter(config: TelemetryConfig): SpanExporter {
  return new OTLPTraceExporter({ url: config.endpoint, headers: config.headers, timeoutMillis: config.batch.exportTimeoutMs });
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
    return buildTelemetry(config, extras, log);
  } catch (error) {
    log.warn("telemetry disabled: setup failed", { error: (error as Error).message });
    return noopTelemetry({ ...config, enabled: false });
  }
}

function buildTelemetry(config: TelemetryConfig, extras: TelemetryExtras, log: Logger): Telemetry {
  const resource: Resource = resourceFromAttributes({
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
  const sampler: Sampler = buildSampler(config.sampler, config.samplerArg);
  const defaultSampler = config.sampler === "parentbased_always_on";

  let processor: SpanProcessor & { stats?: () => ExportStats };
  if (extras.recorder) {
    processor = extras.recorder;
  } else {
    const exporter = extras.exporter ?? createOtlpExporter(config);
    processor = new BoundedBatchProcessor(exporter, config.batch, log, config.endpoint);
  }
  const provider = new BasicTracerProvider({ resource, sampler, spanProcessors: [processor] });
  const tracer = provider.getTracer(scope.name, scope.version);
  const store = new AsyncLocalStorage<TelemetrySpan>();
  const propagator = new W3CTraceContextPropagator();
  const gauge = createMemoryGauge(config.memoryReadingMaxAgeMs);
  let recorderStats = { ended: 0 };
  const sink = {
    onEnd(span: ReadableSpan) {
      if (extras.recorder) recorderStats.ended++;
      processor.onEnd(span);
    },
  };

  function decide(parent: SpanContext | undefined, traceId: string, name: string, kind: SpanKind, attributes: Attributes | undefined) {
    if (defaultSampler) {
      const sampled = parent === undefined || (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
      return { sampled, attributes: undefined as Attributes | undefined, traceState: parent?.traceState };
    }
    const ctx = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    const result = sampler.shouldSample(ctx, traceId, name, kind, attributes ?? {}, []);
    return {
      sampled: result.decision === SamplingDecision.RECORD_AND_SAMPLED,
      attributes: result.attributes,
      traceState: result.traceState ?? parent?.traceState,
    };
  }

  function startSpan(name: string, options: StartSpanOptions = {}): TelemetrySpan {
    const kind = options.kind ?? SpanKind.INTERNAL;
    let parentContext: SpanContext | undefined;
    const parent = options.parent === undefined ? store.getStore() : options.parent;
    if (parent) {
      const ctx = isSpanContext(parent) ? parent : parent.spanContext();
      if (trace.isSpanContextValid(ctx)) parentContext = ctx;
    }
    const traceId = parentContext?.traceId ?? newTraceId();
    const spanId = newSpanId();
    const decision = decide(parentContext, traceId, name, kind, options.attributes);
    if (!decision.sampled) {
      return new NonRecordingSpan({ traceId, spanId, traceFlags: TraceFlags.NONE, traceState: decision.traceState });
    }
    const attributes = decision.attributes ? { ...options.attributes, ...decision.attributes } : options.attributes;
    return new RecordedSpan(name, kind, traceId, spanId, parentContext, attributes, resource, scope, sink, decision.traceState);
  }

  function tracedSpan<T>(name: string, attributes: Attributes, fn: (span: TelemetrySpan) => T, options?: { kind?: SpanKind }): T {
    const span = startSpan(name, { attributes, kind: options?.kind });
    if (!span.isRecording()) return store.run(span, fn, span);
    const cpuStart = process.cpuUsage();
    const memStart = gauge.rssKb();
    const finish = (error?: unknown) => {
      const cpu = process.cpuUsage(cpuStart);
      const memEnd = gauge.rssKb();
      const attrs = (span as RecordedSpan).attributes;
      attrs[PROCESS_ATTR.cpuUserMs] = cpu.user / 1000;
      attrs[PROCESS_ATTR.cpuSystemMs] = cpu.system / 1000;
      attrs[PROCESS_ATTR.memoryMb] = memEnd / 1024;
      attrs[PROCESS_ATTR.memoryDeltaKb] = memEnd - memStart;
      if (error !== undefined) {
        span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        if (attrs["error.type"] === undefined) attrs["error.type"] = String(exceptionAttributes(error)["exception.type"]);
      }
      span.end();
    };
    let result: T;
    try {
      result = store.run(span, fn, span);
    } catch (error) {
      finish(error);
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => {
          finish();
          return value;
        },
        (error) => {
          finish(error ?? new Error("rejected"));
          throw error;
        },
      ) as T;
    }
    finish();
    return result;
  }

  const getter = {
    get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
    keys: (carrier: Headers) => [...carrier.keys()],
  };
  const setter = { set: (carrier: Headers, key: string, value: string) => carrier.set(key, value) };

  const stats = (): ExportStats => {
    if ("stats" in processor && typeof processor.stats === "function") return processor.stats();
    return { ...EMPTY_STATS, ended: recorderStats.ended, exported: recorderStats.ended };
  };

  const telemetry: Telemetry = {
    enabled: true,
    config,
    provider,
    tracer,
    startSpan,
    withSpan: (span, fn) => store.run(span, fn),
    currentSpan: () => store.getStore(),
    currentTraceId: () => {
      const span = store.getStore();
      return span ? span.spanContext().traceId : undefined;
    },
    tracedSpan,
    extract(headers) {
      if (!headers.has("traceparent")) return undefined;
      const ctx = propagator.extract(ROOT_CONTEXT, headers, getter);
      const spanContext = trace.getSpanContext(ctx);
      return spanContext && trace.isSpanContextValid(spanContext) ? spanContext : undefined;
    },
    inject(headers, span) {
      const source = span ?? store.getStore();
      if (!source) return;
      propagator.inject(trace.setSpanContext(ROOT_CONTEXT, source.spanContext()), headers, setter);
    },
    stats,
    flush: (timeoutMs = 5_000) => withTimeout(provider.forceFlush(), timeoutMs),
    async shutdown(timeoutMs = 5_000) {
      unhook();
      await withTimeout(provider.forceFlush(), timeoutMs);
      const s = stats();
      log.info("telemetry shut down", { spans_ended: s.ended, spans_exported: s.exported, spans_dropped: s.dropped });
      await withTimeout(provider.shutdown(), 1_000);
    },
  };
  const unhook = extras.recorder ? () => {} : flushBeforeExit(telemetry);
  return telemetry;
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
