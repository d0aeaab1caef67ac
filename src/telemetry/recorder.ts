import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import type { RecordedSpan, SpanSink } from "./span.ts";
import type { ExportStats } from "./spanprocessor.ts";

/** A finished span as tests see it. */
export interface SpanNode {
  span: ReadableSpan;
  name: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: ReadableSpan["attributes"];
  children: SpanNode[];
}

/**
 * Keeps finished spans in memory so tests can assert on whole trees.
 *
 * @example
 * const recorder = new InMemoryRecorder();
 * const telemetry = createTelemetry(config, { recorder });
 * // ... handle a request ...
 * const [root] = recorder.tree(traceId);
 */
export class InMemoryRecorder implements SpanSink {
  private finished: ReadableSpan[] = [];
  private ended = 0;

  onEnd(span: RecordedSpan): void {
    this.ended++;
    this.finished.push(span);
  }

  /** Every span that ended counts as exported: nothing is queued or lost in memory. */
  stats(): ExportStats {
    const n = this.ended;
    return { ended: n, exported: n, dropped: 0, droppedQueueFull: 0, droppedExportFailed: 0, queued: 0, inFlight: 0, failedExports: 0 };
  }

  /** Every finished span, oldest first, optionally of one trace. */
  spans(traceId?: string): ReadableSpan[] {
    return traceId ? this.finished.filter((s) => s.spanContext().traceId === traceId) : [...this.finished];
  }

  /** Finished spans with this name. */
  byName(name: string): ReadableSpan[] {
    return this.finished.filter((s) => s.name === name);
  }

  /** The trace's spans as trees: roots are spans whose parent is not among the trace's spans. */
  tree(traceId: string): SpanNode[] {
    const spans = this.spans(traceId);
    const nodes = new Map<string, SpanNode>();
    for (const span of spans) {
      const ctx = span.spanContext();
      nodes.set(ctx.spanId, {
        span,
        name: span.name,
        spanId: ctx.spanId,
        parentSpanId: span.parentSpanContext?.spanId,
        attributes: span.attributes,
        children: [],
      });
    }
    const roots: SpanNode[] = [];
    for (const node of nodes.values()) {
      const parent = node.parentSpanId ? nodes.get(node.parentSpanId) : undefined;
      if (parent) parent.children.push(node);
      else roots.push(node);
    }
    const byStart = (a: SpanNode, b: SpanNode) =>
      a.span.startTime[0] - b.span.startTime[0] || a.span.startTime[1] - b.span.startTime[1];
    for (const node of nodes.values()) node.children.sort(byStart);
    return roots.sort(byStart);
  }

  /** A compact text picture of a tree, `name` per line indented by depth; handy in assertions. */
  outline(traceId: string): string[] {
    const lines: string[] = [];
    const walk = (node: SpanNode, depth: number) => {
      lines.push(`${"  ".repeat(depth)}${node.name}`);
      for (const child of node.children) walk(child, depth + 1);
    };
    for (const root of this.tree(traceId)) walk(root, 0);
    return lines;
  }

  reset(): void {
    this.finished = [];
  }

  async flush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
