/**
 * The request path step by step, in one process: a Hono app answering a trivial JSON route is
 * called through `app.fetch` with a fresh `Request` each time, once per rung of a ladder where
 * each rung adds one step of what the tracing middleware does, then the real middleware, then the
 * request log without and with the trace fields; then the real service's app on `GET /health`
 * (untraced, the tracing middleware recording nothing without and with the context store, traced).
 * Printed: CPU µs per request of each rung (process
 * user + system time, so other work on the machine stays out) and what the step added over the
 * rung before. Medians of alternating runs.
 *
 * Run: bun run bench/telemetry-steps.ts   (BENCH_REQUESTS per run, BENCH_RUNS)
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { SpanKind } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import { loadConfig } from "../src/config.ts";
import { createApp } from "../src/http/app.ts";
import { requestLog } from "../src/http/logging.ts";
import { createLogger } from "../src/log.ts";
import { routeOf } from "../src/telemetry/middleware.ts";
import { createTelemetry, noopTelemetry, resolveTelemetryConfig, tracing, type BatchExporter, type Telemetry } from "../src/telemetry/index.ts";
import { fmt, loadAverage, median } from "./telemetry/processes.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const discard: BatchExporter = { export: (_batch, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} };
const { config } = resolveTelemetryConfig({ OTEL_SERVICE_NAME: "bench" });
const telemetry = createTelemetry(config, { log: createLogger({ level: "warn" }), exporter: discard });
/** The request log as the service writes it, to a sink that keeps nothing (the logger's own work counts, the write does not). */
const log = createLogger({ level: "info", write: () => {} });

type Step = (c: Context, state: Record<string, unknown>) => void;

/**
 * One middleware doing `before` steps, awaiting the rest of the app (inside the context store
 * when `store` is set), then the `after` steps.
 */
function ladder(before: Step[], store: boolean, after: Step[]): MiddlewareHandler {
  return async function rung(c, next) {
    const state: Record<string, unknown> = {};
    for (const step of before) step(c, state);
    if (store) await telemetry.withSpan(state.span as never, next);
    else await next();
    for (const step of after) step(c, state);
  };
}

const headers: Step = (c, s) => {
  const req = c.req.raw;
  s.parent = telemetry.extract(req.headers);
  s.host = req.headers.get("host");
  s.userAgent = req.headers.get("user-agent");
  s.path = c.req.path;
  s.method = req.method;
};
const span: Step = (_c, s) => {
  s.span = telemetry.startSpan(s.method as string, {
    kind: SpanKind.SERVER,
    parent: null,
    attributes: { "http.request.method": s.method as string, "url.path": s.path as string, "url.scheme": "http", "server.address": "127.0.0.1", "user_agent.original": s.userAgent as string },
  });
};
const contextVariables: Step = (c, s) => {
  c.set("span" as never, s.span as never);
  c.set("traceId" as never, (s.span as { spanContext(): { traceId: string } }).spanContext().traceId as never);
};
const route: Step = (c, s) => {
  const r = routeOf(c);
  const sp = s.span as { updateName(n: string): void; setAttribute(k: string, v: unknown): void };
  if (r) {
    sp.updateName(`${s.method} ${r}`);
    sp.setAttribute("http.route", r);
  }
  sp.setAttribute("http.response.status_code", c.res.status);
};
const end: Step = (_c, s) => (s.span as { end(): void }).end();
const traceresponse: Step = (c, s) => {
  const ctx = (s.span as { spanContext(): { traceId: string; spanId: string } }).spanContext();
  c.res.headers.set("traceresponse", `00-${ctx.traceId}-${ctx.spanId}-01`);
};

const rungs: Array<[string, MiddlewareHandler[]]> = [
  ["no middleware", []],
  ["an empty async middleware", [ladder([], false, [])]],
  ["+ read traceparent, host, user-agent, path", [ladder([headers], false, [])]],
  ["+ sampler, ids, span object with attributes", [ladder([headers, span], false, [])]],
  ["+ context variables (span, traceId)", [ladder([headers, span, contextVariables], false, [])]],
  ["+ context store (AsyncLocalStorage run)", [ladder([headers, span, contextVariables], true, [])]],
  ["+ route lookup, name, status", [ladder([headers, span, contextVariables], true, [route])]],
  ["+ end: encode into the export batch", [ladder([headers, span, contextVariables], true, [route, end])]],
  ["+ traceresponse header", [ladder([headers, span, contextVariables], true, [route, end, traceresponse])]],
  ["the tracing middleware itself", [tracing(telemetry)]],
  ["request log, untraced (no trace fields)", [requestLog(log)]],
  ["request log inside the tracing middleware", [tracing(telemetry), requestLog(log)]],
];

/**
 * The real service's app (`createApp`, its four middlewares, the request log) answering
 * `GET /health`: untraced; with the tracing middleware recording nothing, without and with the
 * context store around the rest of the app (what the store's async hops cost there); traced.
 */
function serviceApps(): Array<[string, Hono]> {
  const config = loadConfig({ DATABASE_URL: "memory://", LOG_LEVEL: "info" });
  const off = noopTelemetry();
  const store = new AsyncLocalStorage<unknown>();
  const nothing: Telemetry = { ...off, enabled: true };
  const storeOnly: Telemetry = { ...off, enabled: true, withSpan: (span, fn) => store.run(span, fn) };
  return [
    ["service GET /health, untraced", createApp({ config, telemetry: off, log }) as unknown as Hono],
    ["  tracing middleware recording nothing", createApp({ config, telemetry: nothing, log }) as unknown as Hono],
    ["  the same inside the context store", createApp({ config, telemetry: storeOnly, log }) as unknown as Hono],
    ["  traced", createApp({ config, telemetry, log }) as unknown as Hono],
  ];
}

function app(middleware: MiddlewareHandler[]): Hono {
  const hono = new Hono();
  for (const m of middleware) hono.use(m);
  hono.get("/json", (c) => c.json({ ok: true, items: [1, 2, 3], name: "hybrid-image-search" }));
  return hono;
}

const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function perRequest(hono: Hono, path = "/json"): Promise<number> {
  const start = cpuMicros();
  for (let i = 0; i < REQUESTS; i++) {
    const res = await hono.fetch(new Request(`http://127.0.0.1:3000${path}`, { headers: { host: "127.0.0.1:3000", "user-agent": "wrk/4.2" } }));
    if (res.status !== 200) throw new Error(`status ${res.status}`);
  }
  return (cpuMicros() - start) / REQUESTS;
}

console.log(`# the request path step by step: bun ${Bun.version}, ${fmt(REQUESTS)} requests per run through app.fetch, ${RUNS} runs alternating, load average ${await loadAverage()}`);
const apps = rungs.map(([name, middleware]) => [name, app(middleware)] as const);
const results = new Map<string, number[]>(rungs.map(([name]) => [name, []]));
for (let run = 0; run < RUNS; run++) {
  for (const [name, hono] of apps) results.get(name)!.push(await perRequest(hono));
}
let previous: number | undefined;
console.log("  CPU µs per request (median)                   total   step");
for (const [name] of rungs) {
  const us = median(results.get(name)!);
  const step = previous === undefined || name.startsWith("the ") || name.startsWith("request log") ? "" : `${us - previous >= 0 ? "+" : ""}${fmt(us - previous, 2)}`;
  console.log(`  ${name.padEnd(46)} ${fmt(us, 2).padStart(6)} ${step.padStart(6)}`);
  if (!name.startsWith("the ") && !name.startsWith("request log")) previous = us;
}
const at = (name: string) => median(results.get(name)!);
const service = serviceApps();
const serviceResults = new Map<string, number[]>(service.map(([name]) => [name, []]));
for (let run = 0; run < RUNS; run++) {
  for (const [name, hono] of service) serviceResults.get(name)!.push(await perRequest(hono, "/health"));
}
const base = median(serviceResults.get(service[0]![0])!);
for (const [name] of service) {
  const us = median(serviceResults.get(name)!);
  console.log(`  ${name.padEnd(46)} ${fmt(us, 2).padStart(6)} ${name.startsWith(" ") ? `+${fmt(us - base, 2)}`.padStart(6) : ""}`);
}
console.log(
  `  the tracing middleware costs ${fmt(at("the tracing middleware itself") - at("no middleware"), 2)} µs over no middleware; ` +
    `the trace fields make the request line ${fmt(at("request log inside the tracing middleware") - at("the tracing middleware itself") - (at("request log, untraced (no trace fields)") - at("no middleware")), 2)} µs dearer`,
);
console.log(`load average at the end: ${await loadAverage()}`);
await telemetry.shutdown();
