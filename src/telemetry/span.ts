import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type HrTime,
  type Link,
  type SpanContext,
  type SpanStatus,
} from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import type { ExportStats } from "./spanprocessor.ts";

/** What pipeline code may do with a span. */
export interface TelemetrySpan {
  spanContext(): SpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: AttributeValue | undefined): this;
  setAttributes(attributes: Attributes): this;
  addEvent(name: string, attributes?: Attributes): this;
  addLink(link: Link): this;
  recordException(error: unknown): this;
  setStatus(status: SpanStatus): this;
  updateName(name: string): this;
  end(): void;
}

/**
 * Where a recorder's finished spans go: the batch processor (OTLP export) or the in-memory
 * recorder (tests). Every sink counts what it was given, so `stats()` never needs to know which.
 */
export interface SpanSink {
  /** Takes a finished, sampled span; O(1), never throws, never blocks. */
  onEnd(span: RecordedSpan): void;
  stats(): ExportStats;
  /** Sends what is queued; resolves when it is settled or after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Flushes within `timeoutMs`, then counts whatever is still pending as dropped. */
  shutdown(timeoutMs: number): Promise<void>;
}

const ORIGIN_MS = performance.timeOrigin;

/** Wall-clock milliseconds with sub-millisecond precision, from the monotonic clock. */
export function nowMs(): number {
  return ORIGIN_MS + performance.now();
}

/** Wall-clock milliseconds as an OpenTelemetry HrTime `[seconds, nanoseconds]`. */
export function toHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** Turns an error into the `exception.*` attributes of the OpenTelemetry exception event. */
export function exceptionAttributes(error: unknown): Attributes {
  if (error instanceof Error) {
    return {
      "exception.type": error.name || error.constructor?.name || "Error",
      "exception.message": error.message,
      "exception.stacktrace": error.stack ?? "",
    };
  }
  return { "exception.type": typeof error, "exception.message": String(error) };
}

// Shared by spans that have none; replaced (never mutated) on first write.
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET_STATUS: SpanStatus = { code: SpanStatusCode.UNSET };

/**
 * A recording span: a plain object that is also a `ReadableSpan`, so the encoder and tests read
 * it directly. It skips the SDK Span's per-call validation and limits bookkeeping, which is most
 * of the SDK's per-span cost; keys and values come from our own code.
 *
 * @example
 * const span = new RecordedSpan("work", SpanKind.INTERNAL, traceId, spanId, undefined, {}, resource, scope, sink);
 * span.setAttribute("work.items", 3).end();
 */
export class RecordedSpan implements TelemetrySpan, ReadableSpan {
  links: Link[] = NO_LINKS;
  events: TimedEvent[] = NO_EVENTS;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  status: SpanStatus = UNSET_STATUS;
  ended = false;
  /** Wall-clock start and end in milliseconds: the encoder reads these, not the HrTime getters. */
  readonly startMs: number;
  endMs = 0;
  private readonly context: SpanContext;

  /**
   * `attributes` becomes the span's own object (no copy): pass a fresh object without
   * `undefined` or `null` values ({@link ownAttributes} makes one from caller input).
   */
  constructor(
    public name: string,
    readonly kind: SpanKind,
    traceId: string,
    spanId: string,
    readonly parentSpanContext: SpanContext | undefined,
    readonly attributes: Attributes,
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
    private readonly sink: SpanSink,
    traceState?: SpanContext["traceState"],
  ) {
    this.context = { traceId, spanId, traceFlags: TraceFlags.SAMPLED, traceState };
    this.startMs = nowMs();
  }

  // HrTime arrays are made only when something asks for them (tests, other exporters).
  get startTime(): HrTime {
    return toHrTime(this.startMs);
  }

  get endTime(): HrTime {
    return this.ended ? toHrTime(this.endMs) : [0, 0];
  }

  get duration(): HrTime {
    return this.ended ? toHrTime(Math.max(0, this.endMs - this.startMs)) : [0, 0];
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (!this.ended && value !== undefined && value !== null) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributes?: Attributes): this {
    if (this.ended) return this;
    if (this.events === NO_EVENTS) this.events = [];
    this.events.push({ name, attributes: attributes ?? {}, time: toHrTime(nowMs()), droppedAttributesCount: 0 });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    if (this.links === NO_LINKS) this.links = [];
    this.links.push({ context: link.context, attributes: link.attributes ? ownAttributes(link.attributes) : {}, droppedAttributesCount: 0 });
    return this;
  }

  recordException(error: unknown): this {
    return this.addEvent("exception", exceptionAttributes(error));
  }

  setStatus(status: SpanStatus): this {
    if (this.ended) return this;
    // An OK status is final; ERROR may not be downgraded to UNSET.
    if (this.status.code === SpanStatusCode.OK) return this;
    if (status.code === SpanStatusCode.UNSET && this.status.code === SpanStatusCode.ERROR) return this;
    this.status = status.message === undefined ? { code: status.code } : status;
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(): void {
    if (this.ended) return;
    this.endMs = nowMs();
    this.ended = true;
    this.sink.onEnd(this);
  }

  /** Milliseconds since the span started (for per-stage timings in responses). */
  elapsedMs(): number {
    return nowMs() - this.startMs;
  }
}

/**
 * A copy of caller-supplied attributes without `undefined`/`null` values, which the SDK drops too
 * (the OTLP encoders would send them as empty values).
 *
 * @example
 * ownAttributes({ a: 1, b: undefined }); // { a: 1 }
 */
export function ownAttributes(attributes: Attributes | undefined): Attributes {
  const out: Attributes = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

/** A span that is not sampled: it carries context (ids, flags) and records nothing. */
export class NonRecordingSpan implements TelemetrySpan {
  constructor(private readonly context: SpanContext) {}
  spanContext(): SpanContext {
    return this.context;
  }
  isRecording(): boolean {
    return false;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  recordException(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
}

export const INVALID_SPAN_CONTEXT: SpanContext = {
  traceId: "00000000000000000000000000000000",
  spanId: "0000000000000000",
  traceFlags: TraceFlags.NONE,
};

export { SpanKind, SpanStatusCode };
