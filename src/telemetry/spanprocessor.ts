import type { InstrumentationScope } from "@opentelemetry/core";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { Logger } from "../log.ts";
import type { BatchSettings } from "./config.ts";
import { OtlpTraceEncoder } from "./encoder.ts";
import { DOUBLE_ATTRIBUTES } from "./names.ts";
import type { RecordedSpan, SpanSink } from "./span.ts";

/** Export counters. Once the queue is empty and nothing is in flight, `exported + dropped = ended`. */
export interface ExportStats {
  /** Sampled spans that ended and were handed to the sink. */
  ended: number;
  /** Spans the collector accepted. */
  exported: number;
  /** Spans lost: `droppedQueueFull + droppedExportFailed`. */
  dropped: number;
  /** Past the queue bound, or ended after shutdown began. */
  droppedQueueFull: number;
  /** In a batch the collector refused or did not answer in time, or still unsent when shutdown's time ran out. */
  droppedExportFailed: number;
  /** Waiting in the queue now. */
  queued: number;
  /** In export requests not yet answered. */
  inFlight: number;
  failedExports: number;
}

/** One export request: its OTLP body and how many spans it carries. */
export interface SpanBatch {
  body: Uint8Array;
  spans: number;
}

/** What the processor sends batches with (`OtlpHttpExporter`, or a stand-in in benchmarks). */
export interface BatchExporter {
  export(batch: SpanBatch, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

interface InFlight {
  spans: number;
  settle(result: ExportResult): void;
}

const SHUTDOWN_ERROR = new Error("shut down before the collector answered");

/**
 * A batch span processor with a hard bound. Each span is encoded to OTLP protobuf as it ends
 * (a few hundred bytes appended to the batch being built), so a queued span holds no objects;
 * `onEnd` is O(1) and never blocks, exports run off the request path, a full queue drops and
 * counts, and a failing collector is logged once per outage with a capped back-off.
 *
 * Written here rather than using the SDK's BatchSpanProcessor because that one neither reports
 * its drops nor backs off, and logs every failed batch through the global diag logger.
 *
 * @example
 * const processor = new BoundedBatchProcessor(new OtlpHttpExporter(config), config.batch, log, resource, scope);
 */
export class BoundedBatchProcessor implements SpanSink {
  private readonly encoder = new OtlpTraceEncoder(DOUBLE_ATTRIBUTES);
  /** Spans in the batch being encoded. */
  private open = 0;
  /** Full batches waiting for an export slot. */
  private readonly ready: SpanBatch[] = [];
  private queued = 0;
  private readonly inFlight = new Set<InFlight>();
  private inFlightSpans = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private kickScheduled = false;
  private outage: { since: number; failedBatches: number; droppedAtStart: number } | undefined;
  private backoffMs = 0;
  private nextAttemptAt = 0;
  private shuttingDown = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly counts = { ended: 0, exported: 0, droppedQueueFull: 0, droppedExportFailed: 0, failedExports: 0 };

  constructor(
    private readonly exporter: BatchExporter,
    private readonly settings: BatchSettings,
    private readonly log: Logger,
    private readonly resource: Resource,
    private readonly scope: InstrumentationScope,
    private readonly endpointForLogs = "",
  ) {}

  onEnd(span: RecordedSpan): void {
    this.counts.ended++;
    if (this.shuttingDown || this.queued >= this.settings.maxQueueSize) {
      this.counts.droppedQueueFull++;
      return;
    }
    this.encoder.append(span);
    this.open++;
    this.queued++;
    if (this.open >= this.settings.maxExportBatchSize) {
      this.ready.push(this.seal());
      this.kick();
    } else if (this.timer === undefined) {
      this.arm(this.settings.scheduledDelayMs);
    }
  }

  stats(): ExportStats {
    const c = this.counts;
    return {
      ended: c.ended,
      exported: c.exported,
      dropped: c.droppedQueueFull + c.droppedExportFailed,
      droppedQueueFull: c.droppedQueueFull,
      droppedExportFailed: c.droppedExportFailed,
      queued: this.queued,
      inFlight: this.inFlightSpans,
      failedExports: c.failedExports,
    };
  }

  /** Sends everything queued now (ignoring back-off); resolves once every export settled, or after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void> {
    return withDeadline(this.drain(), timeoutMs);
  }

  /**
   * Flushes within `timeoutMs`; whatever is still queued or in flight then is counted as dropped
   * (so `exported + dropped = ended` holds after every shutdown), and spans ending later are
   * dropped and counted. Adds no wait when nothing is pending.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    await this.flush(timeoutMs);
    this.shuttingDown = true;
    this.clearTimer();
    if (this.open > 0) this.ready.push(this.seal());
    for (const batch of this.ready.splice(0)) this.counts.droppedExportFailed += batch.spans;
    this.queued = 0;
    for (const request of [...this.inFlight]) request.settle({ code: ExportResultCode.FAILED, error: SHUTDOWN_ERROR });
    // Not awaited: the exporter's shutdown waits for the requests just given up on.
    this.exporter.shutdown().catch(() => {});
  }

  private async drain(): Promise<void> {
    this.clearTimer();
    this.backoffMs = 0;
    this.nextAttemptAt = 0;
    while (this.queued > 0 || this.inFlight.size > 0) {
      // Listen before pumping: an exporter that answers at once settles inside pump().
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      this.pump(true, true);
      await idle;
    }
  }

  private seal(): SpanBatch {
    const batch = { body: this.encoder.seal(this.resource, this.scope), spans: this.open };
    this.open = 0;
    return batch;
  }

  private arm(delayMs: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump(false, true);
    }, delayMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Schedules an export on a later macrotask, so the request that filled the batch is not charged. */
  private kick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      this.pump(false, false);
    });
  }

  /**
   * Sends full batches while export slots are free; with `partial` (the timer, a flush) also the
   * batch being built. Outside a flush, waits out the back-off after a failure.
   */
  private pump(force: boolean, partial: boolean): void {
    if (this.shuttingDown) return;
    if (!force && this.outage && performance.now() < this.nextAttemptAt) {
      if (this.timer === undefined) this.arm(this.nextAttemptAt - performance.now());
      return;
    }
    while (this.inFlight.size < this.settings.maxConcurrentExports) {
      const batch = this.ready.shift() ?? (partial && this.open > 0 ? this.seal() : undefined);
      if (!batch) break;
      this.send(batch);
    }
    if (this.queued > 0 && this.timer === undefined) this.arm(this.settings.scheduledDelayMs);
    this.notifyIfIdle();
  }

  private send(batch: SpanBatch): void {
    this.queued -= batch.spans;
    this.inFlightSpans += batch.spans;
    const timeout = setTimeout(() => request.settle({ code: ExportResultCode.FAILED, error: new Error("export timed out") }), this.settings.exportTimeoutMs);
    (timeout as { unref?: () => void }).unref?.();
    const request: InFlight = {
      spans: batch.spans,
      settle: (result) => {
        // The first outcome counts: a late answer after a timeout or shutdown changes nothing.
        if (!this.inFlight.delete(request)) return;
        clearTimeout(timeout);
        this.inFlightSpans -= batch.spans;
        if (result.code === ExportResultCode.SUCCESS) this.onSuccess(batch.spans);
        else this.onFailure(batch.spans, result.error);
        if (this.ready.length > 0) this.kick();
        this.notifyIfIdle();
      },
    };
    this.inFlight.add(request);
    try {
      this.exporter.export(batch, request.settle);
    } catch (error) {
      request.settle({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  private onSuccess(n: number): void {
    this.counts.exported += n;
    this.backoffMs = 0;
    if (this.outage) {
      const dropped = this.stats().dropped - this.outage.droppedAtStart;
      this.log.info("trace export resumed", {
        endpoint: this.endpointForLogs,
        outage_ms: Math.round(performance.now() - this.outage.since),
        failed_batches: this.outage.failedBatches,
        spans_dropped: dropped,
      });
      this.outage = undefined;
    }
  }

  private onFailure(n: number, error: Error | undefined): void {
    this.counts.droppedExportFailed += n;
    this.counts.failedExports++;
    if (this.shuttingDown) return;
    this.backoffMs = Math.min(this.backoffMs === 0 ? 250 : this.backoffMs * 2, 5_000);
    this.nextAttemptAt = performance.now() + this.backoffMs;
    if (this.outage) {
      this.outage.failedBatches++;
      return;
    }
    this.outage = { since: performance.now(), failedBatches: 1, droppedAtStart: this.stats().dropped - n };
    this.log.warn("trace export failing; spans are dropped until the collector answers (logged once per outage)", {
      endpoint: this.endpointForLogs,
      error: error?.message ?? "unknown error",
    });
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || this.inFlight.size > 0) return;
    // Idle means nothing in flight: a flush loop then sends what is left, or ends.
    const waiters = this.idleWaiters.splice(0);
    for (const w of waiters) w();
  }
}

/**
 * Resolves when `promise` settles or after `ms`, whichever is first, and leaves no timer behind.
 *
 * @example
 * await withDeadline(exporter.shutdown(), 1_000);
 */
export function withDeadline(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
