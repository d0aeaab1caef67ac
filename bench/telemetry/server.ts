/**
 * One benchmark server variant in its own process, a bare Hono app serving `GET /json` (a trivial
 * JSON route) and `GET /stages` (the same answer from inside four nested `tracedSpan` stages):
 *   untraced  — the plain app;
 *   traced    — the app behind our `tracing(telemetry)` middleware, every span encoded by the
 *               recorder and exported over OTLP/HTTP to the receiver;
 *   recorder  — the traced app with an exporter that accepts every batch and sends nothing
 *               (the recorder and middleware, encoding included, without the network);
 *   honootel  — the app behind `@hono/otel` with an SDK BasicTracerProvider + BatchSpanProcessor
 *               + the official OTLP proto exporter (a baseline; nothing registered globally);
 *   wrapper   — an experiment, not what the service uses: the same recorder around `app.fetch`
 *               instead of inside Hono (no compose; route found by a second router match; no
 *               `c.set` variables for handlers), to see what leaving the middleware chain saves;
 *   minimal   — a floor, not a usable recorder: one middleware that creates, ends and encodes
 *               one span for the request through the same recorder and exports it, and nothing
 *               else (no traceparent, context store, route, context variables, traceresponse);
 *   emptymw   — the app behind one middleware that does nothing but call `next()`: what Hono
 *               charges for having any middleware at all (its compose path instead of calling the
 *               lone handler directly), a floor under every middleware-based tracer.
 *
 * Usage: bun run bench/telemetry/server.ts <variant> <otlp traces url> — prints `ready <port>`.
 * SIGTERM flushes spans and prints `stats {...}` before exiting.
 */
import { Hono } from "hono";
import { httpInstrumentationMiddleware } from "@hono/otel";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createLogger } from "../../src/log.ts";
import { SpanKind } from "@opentelemetry/api";
import { createTelemetry, resolveTelemetryConfig, tracing, type Telemetry, type TelemetrySpan } from "../../src/telemetry/index.ts";

const [variant, url] = process.argv.slice(2);
if (!variant || !url) throw new Error("usage: server.ts <untraced|traced|recorder|wrapper|minimal|honootel|emptymw> <otlp url>");

const app = new Hono();
let telemetry: Telemetry | undefined;
/** What Bun.serve calls; the app itself unless a variant wraps it. */
let serve: (req: Request) => Response | Promise<Response> = (req) => app.fetch(req);
let onStop: () => Promise<string> = async () => "{}";

if (variant === "traced" || variant === "recorder") {
  const { config } = resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url, OTEL_SERVICE_NAME: "bench" });
  const discard = { export: (_batch: unknown, done: (r: { code: ExportResultCode }) => void) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} };
  const recorder = createTelemetry(config, { log: createLogger({ level: "warn" }), exporter: variant === "recorder" ? discard : undefined });
  telemetry = recorder;
  app.use(tracing(recorder));
  onStop = async () => {
    await recorder.flush(10_000);
    return JSON.stringify(recorder.stats());
  };
} else if (variant === "honootel") {
  // The proto exporter's default (node) build: what an @hono/otel user gets.
  const exporter = new OTLPTraceExporter({ url });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "bench" }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 16_384, maxExportBatchSize: 1_024, scheduledDelayMillis: 1_000 })],
  });
  app.use(httpInstrumentationMiddleware({ tracerProvider: provider }));
  onStop = async () => {
    await provider.forceFlush();
    return "{}";
  };
} else if (variant === "wrapper") {
  const { config } = resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url, OTEL_SERVICE_NAME: "bench" });
  const recorder = createTelemetry(config, { log: createLogger({ level: "warn" }) });
  telemetry = recorder;
  const finish = (req: Request, span: TelemetrySpan, res: Response): Response => {
    const matched = app.router.match(req.method, app.getPath(req))[0];
    let route: string | undefined;
    for (let i = matched.length - 1; i >= 0 && route === undefined; i--) {
      const r = matched[i]![0][1];
      if (r.method !== "ALL") route = r.path;
    }
    if (route) {
      span.updateName(`${req.method} ${route}`);
      span.setAttribute("http.route", route);
    }
    span.setAttribute("http.response.status_code", res.status);
    span.end();
    const ctx = span.spanContext();
    res.headers.set("traceresponse", `00-${ctx.traceId}-${ctx.spanId}-01`);
    return res;
  };
  serve = (req) => {
    const headers = req.headers;
    const span = recorder.startSpan(req.method, {
      kind: SpanKind.SERVER,
      parent: recorder.extract(headers) ?? null,
      attributes: { "http.request.method": req.method, "url.path": app.getPath(req), "url.scheme": "http", "server.address": "127.0.0.1", "user_agent.original": headers.get("user-agent") ?? undefined },
    });
    const res = recorder.withSpan(span, () => app.fetch(req));
    return res instanceof Promise ? res.then((r) => finish(req, span, r)) : finish(req, span, res);
  };
  onStop = async () => {
    await recorder.flush(10_000);
    return JSON.stringify(recorder.stats());
  };
} else if (variant === "minimal") {
  const { config } = resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url, OTEL_SERVICE_NAME: "bench" });
  const recorder = createTelemetry(config, { log: createLogger({ level: "warn" }) });
  app.use(function minimal(c, next) {
    const span = recorder.startSpan("GET /json", {
      kind: SpanKind.SERVER,
      parent: null,
      attributes: { "http.request.method": "GET", "url.path": "/json", "url.scheme": "http", "server.address": "127.0.0.1", "http.route": "/json" },
    });
    return next().then(() => {
      span.setAttribute("http.response.status_code", c.res.status);
      span.end();
    });
  });
  onStop = async () => {
    await recorder.flush(10_000);
    return JSON.stringify(recorder.stats());
  };
} else if (variant === "emptymw") {
  app.use(function nothing(_c, next) {
    return next();
  });
} else if (variant !== "untraced") {
  throw new Error(`unknown variant ${variant}`);
}

const answer = { ok: true, items: [1, 2, 3], name: "hybrid-image-search" };
app.get("/json", (c) => c.json(answer));
// Four stages, each a child of the previous: what one extra `tracedSpan` costs in a request.
const stage = <T>(name: string, fn: () => T): T => (telemetry ? telemetry.tracedSpan(name, { "bench.stage": name }, fn) : fn());
app.get("/stages", (c) => stage("bench.a", () => stage("bench.b", () => stage("bench.c", () => stage("bench.d", () => c.json(answer))))));

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: serve });
console.log(`ready ${server.port}`);
process.once("SIGTERM", async () => {
  server.stop(true);
  console.log(`stats ${await onStop()}`);
  process.exit(0);
});
