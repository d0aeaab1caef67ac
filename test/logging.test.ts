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

describe("redaction at any depth, and the line's own fields", () => {
  const collect = () => {
    const raw: string[] = [];
    return { raw, log: createLogger({ level: "debug", write: (line) => raw.push(line) }) };
  };

  test("nested values: secret-named keys and credentials inside strings, in objects and arrays, at any depth", () => {
    const { raw, log } = collect();
    log.info("upstream call", {
      request: { headers: { Authorization: "Bearer sk-NESTED-SECRET", "x-api-key": "AIza-NESTED" }, url: "https://u:p4ss-NESTED@h.example/x?key=QUERY-SECRET" },
      attempts: [{ note: "retried with Bearer tok-IN-ARRAY" }],
      config: { database: { connectionString: "postgres://app:DB-SECRET@db/app" } },
    });
    const text = raw.join("\n");
    for (const secret of ["sk-NESTED-SECRET", "AIza-NESTED", "p4ss-NESTED", "QUERY-SECRET", "tok-IN-ARRAY", "DB-SECRET"]) expect(text).not.toContain(secret);
    const line = JSON.parse(raw[0]!);
    expect(line.request.headers).toEqual({ Authorization: "[redacted]", "x-api-key": "[redacted]" });
    expect(line.request.url).toBe("https://u:***@h.example/x?key=***");
    expect(line.config.database.connectionString).toBe("[redacted]");
  });

  test("an error logged as a plain {name, message} object, as an Error, or as a cause is redacted too", () => {
    const { raw, log } = collect();
    log.error("unhandled error", { error: { name: "DatabaseUnavailableError", message: "could not reach postgres://app:PLAIN-SECRET@db/app" } });
    const cause = new Error("token was Bearer CAUSE-SECRET");
    log.error("failed", { error: new Error("connect postgres://app:ERROR-SECRET@db/app", { cause }) });
    const text = raw.join("\n");
    for (const secret of ["PLAIN-SECRET", "ERROR-SECRET", "CAUSE-SECRET"]) expect(text).not.toContain(secret);
    expect(JSON.parse(raw[1]!).error).toEqual({ name: "Error", message: "connect postgres://app:***@db/app", cause: { name: "Error", message: "token was Bearer ***" } });
  });

  test("time, level and msg are the line's own: a caller's fields of those names are kept aside, from a child too", () => {
    const { raw, log } = collect();
    const before = Date.now();
    log.child({ level: "child-level" }).info("real message", { time: "1999-01-01T00:00:00.000Z", level: "error", msg: "forged message" });
    const line = JSON.parse(raw[0]!);
    expect(line.msg).toBe("real message");
    expect(line.level).toBe("info");
    expect(Date.parse(line.time)).toBeGreaterThanOrEqual(before - 1000);
    expect(line["field.msg"]).toBe("forged message");
    expect(line["field.level"]).toBe("error");
    expect(line["field.time"]).toBe("1999-01-01T00:00:00.000Z");
  });

  test("values JSON cannot write never break a log call: a cycle, a bigint, deep nesting", () => {
    const { raw, log } = collect();
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { end: true };
    for (let i = 0; i < 20; i++) deep = { deeper: deep };
    expect(() => log.info("odd values", { cyclic, big: 2n ** 70n, deep, at: new Date(0) })).not.toThrow();
    const line = JSON.parse(raw[0]!);
    expect(line.cyclic).toEqual({ name: "loop", self: "[circular]" });
    expect(line.big).toBe("1180591620717411303424");
    expect(line.at).toBe("1970-01-01T00:00:00.000Z");
    expect(JSON.stringify(line.deep)).toContain("[depth]");
  });
});
