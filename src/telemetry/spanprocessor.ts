import type { Context } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "../log.ts";
import type { BatchSettings } from "./config.ts";

/** Export counters. Once the queue is empty and nothing is in flight, `exported + dropped = ended`. */
export interface ExportStats {
  /** Sampled spans that ended and were handed to the processor. */
  ended: number;
  /** Spans the collector accepted. */
  exported: number;
  /** Spans lost: `droppedQueueFull + droppedExportFailed`. */
  dropped: number;
  droppedQueueFull: number;
  droppedExportFailed: number;
  /** Waiting in the queue now. */
  queued: number;
  /** In export requests not yet answered. */
  inFlight: number;
  failedExports: number;
}

/**
 * A batch span processor with a hard bound: `onEnd` is O(1) and never blocks or allocates beyond a
 * push, exports run off the request path, a full queue drops and counts, and a failing collector
 * is logged once per outage with a capped back-off between attempts.
 *
 * Written here rather than using the SDK's BatchSpanProcessor because that one neither reports
 * its drops nor backs off, and logs every failed batch through the global diag logger.
 *
 * @example
 * const processor = new BoundedBatchProcessor(new OTLPTraceExporter({ url }), DEFAULT_BATCH, log);
 */
export class BoundedBatchProcessor implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  private inFlight = 0;
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
    private readonly exporter: SpanExporter,
    private readonly settings: BatchSettings,
    private readonly log: Logger,
    private readonly endpointForLogs = "",
  ) {}

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    this.counts.ended++;
    if (this.shuttingDown || this.queue.length >= this.settings.maxQueueSize) {
      this.counts.droppedQueueFull++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.settings.maxExportBatchSize) this.kick();
    else if (this.timer === undefined) this.arm(this.settings.scheduledDelayMs);
  }

  stats(): ExportStats {
    const c = this.counts;
    return {
      ended: c.ended,
      exported: c.exported,
      dropped: c.droppedQueueFull + c.droppedExportFailed,
      droppedQueueFull: c.droppedQueueFull,
      droppedExportFailed: c.droppedExportFailed,
      queued: this.queue.length,
      inFlight: this.inFlightSpans,
      failedExports: c.failedExports,
    };
  }

  /** Sends everything queued now (ignoring back-off) and waits for every export to settle. */
  async forceFlush(): Promise<void> {
    this.clearTimer();
    this.backoffMs = 0;
    this.nextAttemptAt = 0;
    while (this.queue.length > 0 || this.inFlight > 0) {
      this.pump(true);
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.shuttingDown = true;
    await this.exporter.shutdown();
  }

  private arm(delayMs: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump(false);
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
      this.pump(false);
    });
  }

  private pump(force: boolean): void {
    if (!force && this.outage && performance.now() < this.nextAttemptAt) {
      if (this.timer === undefined) this.arm(this.nextAttemptAt - performance.now());
      return;
    }
    while (this.queue.length > 0 && this.inFlight < this.settings.maxConcurrentExports) {
      const batch = this.queue.splice(0, this.settings.maxExportBatchSize);
      this.send(batch);
      if (!force && this.queue.length < this.settings.maxExportBatchSize) break;
    }
    if (this.queue.length > 0 && this.timer === undefined && this.inFlight < this.settings.maxConcurrentExports) {
      this.arm(this.settings.scheduledDelayMs);
    }
    this.notifyIfIdle();
  }

  private send(batch: ReadableSpan[]): void {
    this.inFlight++;
    this.inFlightSpans += batch.length;
    let settled = false;
    const timeout = setTimeout(() => finish({ code: ExportResultCode.FAILED, error: new Error("export timed out") }), this.settings.exportTimeoutMs);
    (timeout as { unref?: () => void }).unref?.();
    const finish = (result: ExportResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      this.inFlight--;
      this.inFlightSpans -= batch.length;
      if (result.code === ExportResultCode.SUCCESS) this.onSuccess(batch.length);
      else this.onFailure(batch.length, result.error);
      if (this.queue.length >= this.settings.maxExportBatchSize) this.kick();
      else if (this.queue.length > 0 && this.timer === undefined) this.arm(this.settings.scheduledDelayMs);
      this.notifyIfIdle();
    };
    try {
      this.exporter.export(batch, finish);
    } catch (error) {
      finish({ code: ExportResultCode.FAILED, error: error as Error });
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
    if (this.idleWaiters.length === 0) return;
    if (this.inFlight > 0) return;
    const waiters = this.idleWaiters.splice(0);
    for (const w of waiters) w();
  }
}
