/**
 * One benchmark server variant in its own process, serving `GET /json` (a trivial JSON route):
 *   untraced  — a plain Hono app;
 *   traced    — the same app behind our `tracing(telemetry)` middleware, every span exported by
 *               the official OTLP proto exporter (its fetch build, as createTelemetry uses it)
 *               through our bounded batch processor;
 *   recorder  — the traced app with an exporter that accepts every batch and sends nothing: the
 *               recorder and middleware alone, without serialization or network (not the target);
 *   floor     — the least any recorder must do per request, for a ceiling: read the three headers,
 *               make ids, find the route, build one plain span object, hand it to the same
 *               BoundedBatchProcessor and official exporter, set `traceresponse`. No context store
 *               (so no child spans), no span class, no sampler: not a usable recorder;
 *   honootel  — the same app behind `@hono/otel` with an SDK BasicTracerProvider +
 *               BatchSpanProcessor + the same exporter build (a baseline; nothing registered globally).
 *
 * Usage: bun run bench/telemetry/server.ts <variant> <otlp traces url> — prints `ready <port>`.
 * SIGTERM flushes spans and prints `stats {...}` before exiting.
 */
import { Hono } from "hono";
import { httpInstrumentationMiddleware } from "@hono/otel";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { ExportResultCode } from "@opentelemetry/core";
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes } from "@opentelemetry/api";
import { createLogger } from "../../src/log.ts";
import { createTelemetry, resolveTelemetryConfig, tracing } from "../../src/telemetry/index.ts";
import { newSpanId, newTraceId } from "../../src/telemetry/ids.ts";
import { routeOf } from "../../src/telemetry/middleware.ts";
import { createOtlpExporter } from "../../src/telemetry/provider.ts";
import { nowMs, toHrTime } from "../../src/telemetry/span.ts";
import { BoundedBatchProcessor } from "../../src/telemetry/spanprocessor.ts";

const [variant, url] = process.argv.slice(2);
if (!variant || !url) throw new Error("usage: server.ts <untraced|traced|recorder|floor|honootel> <otlp url>");

const app = new Hono();
let onStop: () => Promise<string> = async () => "{}";

if (variant === "traced" || variant === "recorder") {
  const { config } = resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url, OTEL_SERVICE_NAME: "bench" });
  // traced: the exporter createTelemetry would build; recorder: one that accepts every batch and
  // sends nothing. Wrapped to time the synchronous part of export (for traced, protobuf
  // serialization on the event loop) so the run can say where the time goes.
  const inner: SpanExporter =
    variant === "traced"
      ? createOtlpExporter(config)
      : { export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} };
  let exportSyncMs = 0;
  let exportedSpans = 0;
  const exporter: SpanExporter = {
    export(spans, done) {
      const start = performance.now();
      inner.export(spans, done);
      exportSyncMs += performance.now() - start;
      exportedSpans += spans.length;
    },
    shutdown: () => inner.shutdown(),
  };
  const telemetry = createTelemetry(config, { log: createLogger({ level: "warn" }), exporter });
  app.use(tracing(telemetry));
  onStop = async () => {
    await telemetry.flush(10_000);
    const serialization = variant === "traced" ? { exportSyncUsPerSpan: (exportSyncMs * 1000) / Math.max(1, exportedSpans) } : {};
    return JSON.stringify({ ...telemetry.stats(), ...serialization });
  };
} else if (variant === "floor") {
  const { config } = resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url, OTEL_SERVICE_NAME: "bench" });
  const processor = new BoundedBatchProcessor(createOtlpExporter(config), config.batch, createLogger({ level: "warn" }), url);
  const resource = resourceFromAttributes({ "service.name": "bench" });
  const scope = { name: "bench" };
  app.use(async (c, next) => {
    const req = c.req.raw;
    const startMs = nowMs();
    const remoteParent = req.headers.get("traceparent");
    const host = req.headers.get("host") ?? "";
    const userAgent = req.headers.get("user-agent");
    const context = { traceId: newTraceId(), spanId: newSpanId(), traceFlags: TraceFlags.SAMPLED };
    await next();
    const route = routeOf(c) ?? "";
    const attributes: Attributes = {
      "http.request.method": req.method,
      "url.path": c.req.path,
      "url.scheme": "http",
      "server.address": host.split(":")[0],
      "http.route": route,
      "http.response.status_code": c.res.status,
    };
    if (userAgent) attributes["user_agent.original"] = userAgent;
    if (remoteParent) attributes["bench.remote_parent"] = true;
    const endMs = nowMs();
    processor.onEnd({
      name: `${req.method} ${route}`,
      kind: SpanKind.SERVER,
      spanContext: () => context,
      parentSpanContext: undefined,
      startTime: toHrTime(startMs),
      endTime: toHrTime(endMs),
      duration: toHrTime(endMs - startMs),
      status: { code: SpanStatusCode.UNSET },
      attributes,
      links: [],
      events: [],
      ended: true,
      resource,
      instrumentationScope: scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    });
    c.res.headers.set("traceresponse", `00-${context.traceId}-${context.spanId}-01`);
  });
  onStop = async () => {
    await processor.forceFlush();
    return JSON.stringify(processor.stats());
  };
} else if (variant === "honootel") {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "bench" }),
    spanProcessors: [
      new BatchSpanProcessor(createOtlpExporter(resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url }).config), {
        maxQueueSize: 16_384,
        maxExportBatchSize: 1_024,
        scheduledDelayMillis: 1_000,
      }),
    ],
  });
  app.use(httpInstrumentationMiddleware({ tracerProvider: provider }));
  onStop = async () => {
    await provider.forceFlush();
    return "{}";
  };
} else if (variant !== "untraced") {
  throw new Error(`unknown variant ${variant}`);
}

app.get("/json", (c) => c.json({ ok: true, items: [1, 2, 3], name: "hybrid-image-search" }));

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
console.log(`ready ${server.port}`);
process.once("SIGTERM", async () => {
  server.stop(true);
  console.log(`stats ${await onStop()}`);
  process.exit(0);
});
