import { describe, expect, test } from "bun:test";
import { loadConfig } from "../src/config.ts";
import { createApp } from "../src/http/app.ts";
import { createLogger, redactText, type LogLevel } from "../src/log.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";

function collectingLogger(level: LogLevel = "debug") {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level, write: (line) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe("structured request logs", () => {
  test("one JSON line per request carries method, route, status, duration and the request's trace and span ids", async () => {
    const { log, lines } = collectingLogger();
    const { telemetry, recorder } = createTestTelemetry();
    const app = createApp({ config: loadConfig({ LOG_LEVEL: "debug" }), telemetry, log });
    app.get("/things/:id", (c) => c.json({ id: c.req.param("id") }));

    const res = await app.request("/things/7");
    expect(res.status).toBe(200);
    const requestLines = lines.filter((l) => l.msg === "request");
    expect(requestLines).toHaveLength(1);
    const line = requestLines[0]!;
    const [, traceId, spanId] = res.headers.get("traceresponse")!.split("-");
    expect(line).toMatchObject({ level: "info", method: "GET", route: "/things/:id", path: "/things/7", status: 200 });
    expect(line.trace_id).toBe(traceId);
    expect(line.span_id).toBe(spanId);
    expect(typeof line.duration_ms).toBe("number");
    expect(typeof line.time).toBe("string");
    // The ids in the log are the ids of the exported root span.
    const root = recorder.spans(traceId).find((s) => s.parentSpanContext === undefined)!;
    expect(root.spanContext().spanId).toBe(spanId!);
  });

  test("a failing request logs at error level with its trace id, and a 404 has no route", async () => {
    const { log, lines } = collectingLogger();
    const { telemetry } = createTestTelemetry();
    const app = createApp({ config: loadConfig({}), telemetry, log });
    app.get("/boom", () => {
      throw new Error("kaboom");
    });
    const failed = await app.request("/boom");
    expect(failed.status).toBe(500);
    const missing = await app.request("/nowhere");
    expect(missing.status).toBe(404);
    const [boom, nowhere] = lines.filter((l) => l.msg === "request");
    expect(boom).toMatchObject({ level: "error", status: 500, route: "/boom" });
    expect(boom!.trace_id).toBe(failed.headers.get("traceresponse")!.split("-")[1]);
    expect(nowhere).toMatchObject({ level: "info", status: 404, route: null });
  });

  test("the level setting drops lines below it", () => {
    const { log, lines } = collectingLogger("warn");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => l.msg)).toEqual(["w", "e"]);
  });

  test("secrets never reach a log line: key-named fields, bearer tokens, URL passwords, signed URL parameters", async () => {
    const raw: string[] = [];
    const log = createLogger({ write: (line) => raw.push(line) });
    log.info("connecting to postgres://app:Hunter2-Secret@db.example:5432/app", {
      api_key: "AIza-SECRET-KEY",
      authorization: "Bearer sk-SECRET",
      note: "sent Bearer sk-OTHER-SECRET upstream",
      url: "https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abcdefSECRET&X-Amz-Credential=AKIASECRET",
    });
    const text = raw.join("\n");
    for (const secret of ["Hunter2-Secret", "AIza-SECRET-KEY", "sk-SECRET", "sk-OTHER-SECRET", "abcdefSECRET", "AKIASECRET"]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("db.example");
    expect(redactText("postgres://u:p4ss@h/db")).toBe("postgres://u:***@h/db");
  });

  test("an API key sent by a client appears in no log line", async () => {
    const raw: string[] = [];
    const log = createLogger({ level: "debug", write: (line) => raw.push(line) });
    const { telemetry } = createTestTelemetry();
    const app = createApp({ config: loadConfig({ API_KEYS: "k-live-SECRET" }), telemetry, log });
    app.post("/api/echo", (c) => c.json({ ok: true }));
    const ok = await app.request("/api/echo", { method: "POST", headers: { authorization: "Bearer k-live-SECRET" } });
    expect(ok.status).toBe(200);
    const denied = await app.request("/api/echo", { method: "POST", headers: { authorization: "Bearer wrong-SECRET" } });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
    expect(raw.join("\n")).not.toContain("SECRET");
  });
});
