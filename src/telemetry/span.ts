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

/** What pipeline code may do with a span. */
export interface TelemetrySpan {
  spanContext(): SpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: AttributeValue | undefined): this;
  setAttributes(attributes: Attributes): this;
  addEvent(name: string, attributes?: Attributes): this;
  recordException(error: unknown): this;
  setStatus(status: SpanStatus): this;
  updateName(name: string): this;
  end(): void;
}

/** Receives finished spans (the batch processor, the in-memory recorder). */
export interface SpanSink {
  onEnd(span: ReadableSpan): void;
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
 * A recording span: a plain object that the official OTLP exporter reads as a `ReadableSpan`.
 * It skips the SDK Span's per-call validation and limits bookkeeping, which is most of the
 * SDK's per-span cost; keys and values come from our own code.
 */
export class RecordedSpan implements TelemetrySpan, ReadableSpan {
  readonly attributes: Attributes;
  readonly links: Link[] = NO_LINKS;
  events: TimedEvent[] = NO_EVENTS;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  status: SpanStatus = UNSET_STATUS;
  ended = false;
  private readonly startMs: number;
  private endMs = 0;
  private readonly context: SpanContext;

  constructor(
    public name: string,
    readonly kind: SpanKind,
    traceId: string,
    spanId: string,
    readonly parentSpanContext: SpanContext | undefined,
    attributes: Attributes | undefined,
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
    private readonly sink: SpanSink,
    traceState?: SpanContext["traceState"],
  ) {
    this.context = { traceId, spanId, traceFlags: TraceFlags.SAMPLED, traceState };
    this.attributes = {};
    // Like the SDK, drop absent values: the OTLP encoder would send them as empty AnyValues.
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== undefined && value !== null) this.attributes[key] = value;
    }
    this.startMs = nowMs();
  }

  // Times are kept as milliseconds and turned into HrTime only when the exporter reads them, so
  // a span waiting in the queue holds no per-span arrays.
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
