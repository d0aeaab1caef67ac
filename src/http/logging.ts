import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log.ts";
import { routeOf, type TracingVariables } from "../telemetry/middleware.ts";
import { READINESS_ROUTE } from "./routes/health.ts";

/**
 * One JSON log line per request: method, route, status, duration and the trace and span ids,
 * so a log line leads to its trace. Runs inside the tracing middleware.
 *
 * @example
 * app.use(tracing(telemetry), requestLog(log));
 */
export function requestLog(log: Logger): MiddlewareHandler<{ Variables: TracingVariables }> {
  return async function requestLog(c, next) {
    const start = performance.now();
    await next();
    const status = c.res.status;
    const route = routeOf(c);
    const ctx = c.get("span")?.spanContext();
    const fields = {
      method: c.req.method,
      route: route ?? null,
      path: c.req.path,
      status,
      duration_ms: Math.round((performance.now() - start) * 100) / 100,
      trace_id: ctx && ctx.traceId !== "00000000000000000000000000000000" ? ctx.traceId : undefined,
      span_id: ctx && ctx.spanId !== "0000000000000000" ? ctx.spanId : undefined,
    };
    // A not-ready answer (starting, draining, database down) is the probe doing its job; the
    // database outage itself is logged where it happens.
    if (status >= 500 && route !== READINESS_ROUTE) log.error("request", fields);
    else if (status >= 500) log.warn("request", fields);
    else log.info("request", fields);
  };
}
