import { AsyncLocalStorage } from "node:async_hooks";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type SpanContext } from "@opentelemetry/api";
import { W3CTraceContextPropagator, type InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import { SamplingDecision, type Sampler } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "../log.ts";
import type { TelemetryConfig } from "./config.ts";
import { newSpanId, newTraceId } from "./ids.ts";
import { PROCESS_ATTR } from "./names.ts";
import type { StartSpanOptions, Telemetry } from "./provider.ts";
import type { MemoryGauge } from "./readings.ts";
import { buildSampler } from "./sampling.ts";
import { exceptionAttributes, NonRecordingSpan, ownAttributes, RecordedSpan, type SpanSink, type TelemetrySpan } from "./span.ts";
import type { ExportStats } from "./spanprocessor.ts";

const headerGetter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => [...carrier.keys()],
};
const headerSetter = { set: (carrier: Headers, key: string, value: string) => carrier.set(key, value) };

function isSpanContext(parent: TelemetrySpan | SpanContext): parent is SpanContext {
  return typeof (parent as SpanContext).traceId === "string";
}

/** What a {@link Recorder} is built from; `createTelemetry` resolves it from settings. */
export interface RecorderParts {
  config: TelemetryConfig;
  resource: Resource;
  scope: InstrumentationScope;
  /** Where finished spans go: the batch processor, or the in-memory recorder in tests. */
  sink: SpanSink;
  gauge: MemoryGauge;
  log: Logger;
}

/**
 * The span recorder: starts spans (sampler, ids, parent from its own context store), runs code
 * inside them, reads and writes W3C headers, and hands finished spans to its sink. Nothing is
 * registered globally; one instance is passed to the middleware and the pipelines.
 *
 * @example
 * const recorder = new Recorder({ config, resource, scope, sink, gauge, log });
 * await recorder.tracedSpan("search.embed", {}, () => embed(query));
 */
export class Recorder implements Telemetry {
  readonly enabled = true;
  readonly config: TelemetryConfig;
  private readonly resource: Resource;
  private readonly scope: InstrumentationScope;
  private readonly sink: SpanSink;
  private readonly gauge: MemoryGauge;
  private readonly log: Logger;
  private readonly store = new AsyncLocalStorage<TelemetrySpan>();
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly sampler: Sampler;
  /** `parentbased_always_on` (the default) is decided inline: sampled unless the parent is not. */
  private readonly defaultSampler: boolean;
  private onShutdown: () => void = () => {};

  constructor(parts: RecorderParts) {
    this.config = parts.config;
    this.resource = parts.resource;
    this.scope = parts.scope;
    this.sink = parts.sink;
    this.gauge = parts.gauge;
    this.log = parts.log;
    this.sampler = buildSampler(parts.config.sampler, parts.config.samplerArg);
    this.defaultSampler = parts.config.sampler === "parentbased_always_on";
  }

  /** Runs `hook` once, first thing in `shutdown()` (the exit hook unregisters itself). */
  onShutdownDo(hook: () => void): void {
    this.onShutdown = hook;
  }

  // The public methods are bound properties: a Telemetry can be spread or destructured, as a
  // plain object could.

  startSpan = (name: string, options: StartSpanOptions = {}): TelemetrySpan =>
    this.start(name, options.kind ?? SpanKind.INTERNAL, options.parent === undefined ? this.store.getStore() : options.parent, ownAttributes(options.attributes));

  /**
   * Starts a span that keeps `attributes` as its own object: pass a fresh one without undefined
   * values (`startSpan` and `tracedSpan` copy their caller's into one).
   */
  start(name: string, kind: SpanKind, parent: TelemetrySpan | SpanContext | null | undefined, attributes: Attributes): TelemetrySpan {
    let parentContext: SpanContext | undefined;
    if (parent) {
      const ctx = isSpanContext(parent) ? parent : parent.spanContext();
      if (trace.isSpanContextValid(ctx)) parentContext = ctx;
    }
    const traceId = parentContext?.traceId ?? newTraceId();
    let traceState = parentContext?.traceState;
    if (this.defaultSampler) {
      if (parentContext !== undefined && (parentContext.traceFlags & TraceFlags.SAMPLED) === 0) {
        return new NonRecordingSpan({ traceId, spanId: newSpanId(), traceFlags: TraceFlags.NONE, traceState });
      }
    } else {
      const ctx = parentContext ? trace.setSpanContext(ROOT_CONTEXT, parentContext) : ROOT_CONTEXT;
      const result = this.sampler.shouldSample(ctx, traceId, name, kind, attributes, []);
      if (result.decision !== SamplingDecision.RECORD_AND_SAMPLED) {
        return new NonRecordingSpan({ traceId, spanId: newSpanId(), traceFlags: TraceFlags.NONE, traceState: result.traceState ?? traceState });
      }
      if (result.attributes) Object.assign(attributes, ownAttributes(result.attributes));
      traceState = result.traceState ?? traceState;
    }
    return new RecordedSpan(name, kind, traceId, newSpanId(), parentContext, attributes, this.resource, this.scope, this.sink, traceState);
  }

  withSpan = <T>(span: TelemetrySpan, fn: () => T): T => this.store.run(span, fn);

  currentSpan = (): TelemetrySpan | undefined => this.store.getStore();

  currentTraceId = (): string | undefined => this.store.getStore()?.spanContext().traceId;

  tracedSpan = <T>(name: string, attributes: Attributes, fn: (span: TelemetrySpan) => T, options?: { kind?: SpanKind }): T => {
    const span = this.start(name, options?.kind ?? SpanKind.INTERNAL, this.store.getStore(), ownAttributes(attributes));
    if (!(span instanceof RecordedSpan)) return this.store.run(span, fn, span);
    const cpuStart = process.cpuUsage();
    const memStart = this.gauge.rssKb();
    let result: T;
    try {
      result = this.store.run(span, fn, span);
    } catch (error) {
      this.finishStage(span, cpuStart, memStart, error);
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => {
          this.finishStage(span, cpuStart, memStart, undefined);
          return value;
        },
        (error) => {
          this.finishStage(span, cpuStart, memStart, error ?? new Error("rejected"));
          throw error;
        },
      ) as T;
    }
    this.finishStage(span, cpuStart, memStart, undefined);
    return result;
  };

  /** Ends a stage span with its process readings, and the error if it failed. */
  private finishStage(span: RecordedSpan, cpuStart: NodeJS.CpuUsage, memStart: number, error: unknown): void {
    const cpu = process.cpuUsage(cpuStart);
    const memEnd = this.gauge.rssKb();
    const attrs = span.attributes;
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
  }

  extract = (headers: Headers): SpanContext | undefined => {
    if (!headers.has("traceparent")) return undefined;
    const spanContext = trace.getSpanContext(this.propagator.extract(ROOT_CONTEXT, headers, headerGetter));
    return spanContext && trace.isSpanContextValid(spanContext) ? spanContext : undefined;
  };

  inject = (headers: Headers, span?: TelemetrySpan): void => {
    const source = span ?? this.store.getStore();
    if (source) this.propagator.inject(trace.setSpanContext(ROOT_CONTEXT, source.spanContext()), headers, headerSetter);
  };

  stats = (): ExportStats => this.sink.stats();

  flush = (timeoutMs = 5_000): Promise<void> => this.sink.flush(timeoutMs);

  shutdown = async (timeoutMs = 5_000): Promise<void> => {
    this.onShutdown();
    await this.sink.shutdown(timeoutMs);
    this.gauge.close();
    const s = this.sink.stats();
    this.log.info("telemetry shut down", { spans_ended: s.ended, spans_exported: s.exported, spans_dropped: s.dropped });
  };
}
