import { describe, expect, test } from "bun:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { ClientFacingError } from "../src/errors.ts";
import { createTelemetry, createTestTelemetry, InMemoryRecorder, resolveTelemetryConfig } from "../src/telemetry/index.ts";
import { buildApp, captureLogger, parseTraceresponse, TRACERESPONSE } from "./telemetry-helpers.ts";
import type { Telemetry } from "../src/telemetry/index.ts";
import { loadConfig } from "../src/config.ts";
import { createApp } from "../src/http/app.ts";
import { silentLogger } from "../src/log.ts";

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

function appWith(telemetry: Telemetry) {
  return buildApp(telemetry, {
    routes(app) {
      app.get("/work/:id", (c) =>
        telemetry.tracedSpan("work.step", { "work.id": c.req.param("id") }, async () => c.json({ id: c.req.param("id") })),
      );
      app.get("/boom", () => {
        throw new Error("secret detail: password=hunter2");
      });
      app.get("/teapot", () => {
        throw new ClientFacingError(400, "bad_input", "that is not a teapot");
      });
      app.get("/unavailable", (c) => c.json({ status: "down" }, 503));
    },
  });
}

describe("tracing middleware (in-memory recorder)", () => {
  const { telemetry, recorder } = createTestTelemetry();
  const app = appWith(telemetry);

  async function call(path: string, init?: RequestInit) {
    const res = await app.request(path, init);
    const { traceId, spanId } = parseTraceresponse(res.headers.get("traceresponse"));
    const root = recorder.spans(traceId).find((s) => s.kind === SpanKind.SERVER);
    const body = (await res.json()) as { error: { code: string; message: string } } & Record<string, unknown>;
    return { res, traceId, spanId, root, body };
  }

  test("a matched route names the span METHOD /pattern with stable HTTP attributes", async () => {
    const { res, root, spanId, traceId, body } = await call("http://api.test:8080/work/42", {
      headers: { "user-agent": "spec/1.0" },
    });
    expect(res.status).toBe(200);
    expect(body as unknown).toEqual({ id: "42" });
    expect(root).toBeDefined();
    expect(root!.name).toBe("GET /work/:id");
    expect(root!.spanContext().spanId).toBe(spanId);
    expect(root!.parentSpanContext).toBeUndefined();
    expect(root!.attributes).toMatchObject({
      "http.request.method": "GET",
      "http.route": "/work/:id",
      "url.path": "/work/42",
      "url.scheme": "http",
      "server.address": "api.test",
      "user_agent.original": "spec/1.0",
      "http.response.status_code": 200,
    });
    expect(root!.status.code).toBe(SpanStatusCode.UNSET);
    expect(recorder.outline(traceId)).toEqual(["GET /work/:id", "  work.step"]);
  });

  test("an unmatched path is a 404 JSON error named by the method alone, without http.route", async () => {
    const { res, root, body } = await call("/nowhere/at/all");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(body).toEqual({ error: { code: "not_found", message: expect.any(String) } });
    expect(root!.name).toBe("GET");
    expect(root!.attributes["http.route"]).toBeUndefined();
    expect(root!.attributes["http.response.status_code"]).toBe(404);
    expect(root!.status.code).toBe(SpanStatusCode.UNSET);
  });

  test("a wrong method on a known path is a 405 JSON error with Allow", async () => {
    const { res, root, body } = await call("/work/7", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("GET");
    expect(body.error.code).toBe("method_not_allowed");
    expect(root!.name).toBe("DELETE");
    expect(root!.attributes["http.response.status_code"]).toBe(405);
    expect(root!.status.code).toBe(SpanStatusCode.UNSET);
  });

  test("a thrown error is a 500 that leaks nothing, and an ERROR span with the exception recorded", async () => {
    const { res, root, body } = await call("/boom");
    expect(res.status).toBe(500);
    expect(body).toEqual({ error: { code: "internal_error", message: "internal error" } });
    const text = JSON.stringify(body);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("at ");
    expect(root!.name).toBe("GET /boom");
    expect(root!.status.code).toBe(SpanStatusCode.ERROR);
    expect(root!.attributes["error.type"]).toBe("Error");
    expect(root!.attributes["http.response.status_code"]).toBe(500);
    const exception = root!.events.find((e) => e.name === "exception");
    expect(exception?.attributes?.["exception.type"]).toBe("Error");
    expect(String(exception?.attributes?.["exception.stacktrace"])).toContain("telemetry-middleware.test.ts");
  });

  test("a 5xx answered without a throw is ERROR with error.type set to the status", async () => {
    const { res, root } = await call("/unavailable");
    expect(res.status).toBe(503);
    expect(root!.status.code).toBe(SpanStatusCode.ERROR);
    expect(root!.attributes["error.type"]).toBe("503");
    expect(root!.events).toHaveLength(0);
  });

  test("a 4xx stays UNSET", async () => {
    const { res, root, body } = await call("/teapot");
    expect(res.status).toBe(400);
    expect(body).toEqual({ error: { code: "bad_input", message: "that is not a teapot" } });
    expect(root!.status.code).toBe(SpanStatusCode.UNSET);
    expect(root!.attributes["http.response.status_code"]).toBe(400);
  });

  test("an incoming traceparent is continued: same trace id, parent span id is the caller's", async () => {
    const res = await app.request("/work/9", { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } });
    expect(res.status).toBe(200);
    const { traceId, spanId } = parseTraceresponse(res.headers.get("traceresponse"));
    expect(traceId).toBe(CALLER_TRACE);
    expect(spanId).not.toBe(CALLER_SPAN);
    const root = recorder.spans(CALLER_TRACE).find((s) => s.kind === SpanKind.SERVER)!;
    expect(root.spanContext().spanId).toBe(spanId);
    expect(root.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(root.parentSpanContext?.isRemote).toBe(true);
    const [step] = recorder.spans(CALLER_TRACE).filter((s) => s.name === "work.step");
    expect(step!.parentSpanContext?.spanId).toBe(spanId);
  });

  test("a malformed traceparent is ignored: a fresh trace starts", async () => {
    for (const bad of ["garbage", `00-${"0".repeat(32)}-${CALLER_SPAN}-01`, `00-${CALLER_TRACE}-xyz-01`, `ff-${CALLER_TRACE}-${CALLER_SPAN}-01`]) {
      const res = await app.request("/work/1", { headers: { traceparent: bad } });
      expect(res.status).toBe(200);
      const { traceId } = parseTraceresponse(res.headers.get("traceresponse"));
      expect(traceId).not.toBe(CALLER_TRACE);
      const root = recorder.spans(traceId).find((s) => s.kind === SpanKind.SERVER)!;
      expect(root.parentSpanContext).toBeUndefined();
    }
  });

  test("every response carries a well-formed traceresponse, errors included", async () => {
    for (const [path, status] of [["/health", 200], ["/work/3", 200], ["/nope", 404], ["/boom", 500], ["/teapot", 400], ["/unavailable", 503]] as const) {
      const res = await app.request(path);
      expect(res.status).toBe(status);
      expect(res.headers.get("traceresponse")).toMatch(TRACERESPONSE);
      expect(res.headers.get("traceresponse")!.endsWith("-01")).toBe(true);
    }
  });
});

describe("sampling and switching off", () => {
  test("always_off records nothing and the service still answers", async () => {
    const { telemetry, recorder } = createTestTelemetry({ sampler: "always_off" });
    const app = appWith(telemetry);
    const ok = await app.request("/work/5");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: "5" });
    expect((await app.request("/boom")).status).toBe(500);
    const header = ok.headers.get("traceresponse");
    expect(header).toMatch(TRACERESPONSE);
    expect(header!.endsWith("-00")).toBe(true);
    expect(recorder.spans()).toHaveLength(0);
  });

  test("parentbased_always_on honours an unsampled caller: nothing recorded, trace id kept", async () => {
    const { telemetry, recorder } = createTestTelemetry({ sampler: "parentbased_always_on" });
    const app = appWith(telemetry);
    const res = await app.request("/work/8", { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("traceresponse")).toMatch(new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-00$`));
    expect(recorder.spans()).toHaveLength(0);
    // A sampled caller on the same recorder is recorded, so the empty result above is the sampler's doing.
    await app.request("/work/8", { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } });
    expect(recorder.spans(CALLER_TRACE).map((s) => s.name).sort()).toEqual(["GET /work/:id", "work.step"]);
  });

  test("a request without a Host header (HTTP/1.0 over a socket) names no server.address rather than a piece of the path", async () => {
    const { telemetry, recorder } = createTestTelemetry();
    const app = createApp({ config: loadConfig({ DATABASE_URL: "memory://", LOG_LEVEL: "silent" }), telemetry, log: silentLogger });
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        let text = "";
        Bun.connect({
          hostname: "127.0.0.1",
          port: server.port!,
          socket: {
            open: (socket) => void socket.write("GET /health HTTP/1.0\r\n\r\n"),
            data: (_socket, data) => void (text += new TextDecoder().decode(data)),
            close: () => resolve(text),
            error: (_socket, error) => reject(error),
          },
        }).catch(reject);
      });
      expect(answer).toStartWith("HTTP/1.1 200");
      const root = recorder.spans().find((s) => s.kind === SpanKind.SERVER)!;
      expect(root.name).toBe("GET /health");
      expect(root.attributes["url.path"]).toBe("/health");
      expect(Object.keys(root.attributes)).not.toContain("server.address");
    } finally {
      server.stop(true);
    }
  });

  test("traceidratio with ratio 0 through the environment drops root spans", async () => {
    const { config } = resolveTelemetryConfig({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" });
    const recorder = new InMemoryRecorder();
    const telemetry = createTelemetry(config, { recorder, log: captureLogger().log });
    const res = await appWith(telemetry).request("/work/1");
    expect(res.status).toBe(200);
    expect(recorder.spans()).toHaveLength(0);
  });

  test("OTEL_SDK_DISABLED=true gives a no-op recorder and a working service", async () => {
    const { config, warnings } = resolveTelemetryConfig({ OTEL_SDK_DISABLED: "true" });
    expect(warnings).toEqual([]);
    const recorder = new InMemoryRecorder();
    const { log, lines } = captureLogger();
    const telemetry = createTelemetry(config, { recorder, log });
    expect(telemetry.enabled).toBe(false);
    const app = appWith(telemetry);
    const res = await app.request("/work/11");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: "11" });
    expect((await app.request("/boom")).status).toBe(500);
    expect(telemetry.tracedSpan("x", {}, () => 7)).toBe(7);
    expect(telemetry.currentTraceId()).toBeUndefined();
    expect(recorder.spans()).toHaveLength(0);
    expect(telemetry.stats().ended).toBe(0);
    expect(lines.filter((l) => l.level === "warn")).toHaveLength(0);
  });
});
