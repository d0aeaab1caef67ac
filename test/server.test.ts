import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../src/config.ts";
import type { Database } from "../src/db/index.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { startServer } from "../src/server.ts";
import { createTelemetry, resolveTelemetryConfig, type Telemetry } from "../src/telemetry/index.ts";
import { startOtlpReceiver, type OtlpReceiver } from "./harness/otlp-receiver.ts";
import { spawnServer } from "./harness/server-process.ts";
import { captureLogger, parseTraceresponse, tempDataDir } from "./telemetry-helpers.ts";

let receiver: OtlpReceiver;
beforeAll(() => {
  receiver = startOtlpReceiver();
});
afterAll(() => receiver.stop());

describe("startServer in process", () => {
  // One migrated in-memory database for both servers; startServer leaves a given database open.
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase();
  }, 60_000);
  afterAll(() => database?.close());
  const env = { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "memory://", DATA_DIR: tempDataDir() };

  test("serves /health on an ephemeral port and stops", async () => {
    const { log } = captureLogger();
    const server = await startServer(loadConfig({ ...env, OTEL_SDK_DISABLED: "true" }), { log, database });
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toEqual({ status: "ok" });
    const bad = await fetch(`${server.url}/health`, { method: "POST" });
    expect(bad.status).toBe(405);
    expect(await bad.json()).toMatchObject({ error: { code: "method_not_allowed" } });
    await server.stop();
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });

  test("stop() answers readiness 503 at once, keeps listening while a request is in flight, lets it finish, then stops accepting and flushes its span", async () => {
    receiver.reset();
    const { config: tconfig } = resolveTelemetryConfig({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "60000",
    });
    const { log } = captureLogger();
    const real = createTelemetry(tconfig, { log });
    // The app has no slow route; this wrapper (our own code) holds a request marked x-delay-ms
    // in flight before the handler runs. extract() and withSpan() run back to back per request.
    let pendingDelay = 0;
    let slowHandled = false;
    const telemetry: Telemetry = {
      ...real,
      extract(headers) {
        pendingDelay = Number(headers.get("x-delay-ms") ?? 0);
        return real.extract(headers);
      },
      withSpan(span, fn) {
        const delay = pendingDelay;
        pendingDelay = 0;
        if (delay === 0) return real.withSpan(span, fn);
        return Bun.sleep(delay)
          .then(() => real.withSpan(span, fn))
          .finally(() => {
            slowHandled = true;
          }) as ReturnType<typeof fn>;
      },
    };
    const server = await startServer(loadConfig({ ...env, SHUTDOWN_GRACE_MS: "5000" }), { log, telemetry, database });
    const slow = fetch(`${server.url}/health`, { headers: { "x-delay-ms": "700" } });
    await Bun.sleep(150);
    let stopped = false;
    let handledBeforeStopped: boolean | undefined;
    const stopping = server.stop().then(() => {
      handledBeforeStopped = slowHandled;
      stopped = true;
    });
    await Bun.sleep(50);
    // Draining: a load balancer's probe still gets an answer, and it says "not ready".
    const ready = await fetch(`${server.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "draining" });
    expect(stopped).toBe(false);
    const res = await slow;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    const { traceId } = parseTraceresponse(res.headers.get("traceresponse"));
    await stopping;
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    // stop() resolved only after the in-flight request was handled (an order, not a time).
    expect(handledBeforeStopped).toBe(true);
    // The batch delay is a minute: only the flush in stop() can have delivered the span.
    const spans = receiver.spans().filter((s) => s.traceId === traceId);
    expect(spans.map((s) => s.name)).toEqual(["GET /health"]);
  });
});

describe("the server process", () => {
  // One spawned server covers both: starting a process opens an embedded database, which is slow.
  test("a malformed OTEL_EXPORTER_OTLP_HEADERS only warns (naming it, not echoing it); SIGTERM then flushes spans and exits 0", async () => {
    receiver.reset();
    const server = spawnServer({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: "memory://",
      DATA_DIR: tempDataDir(),
      // The empty in-memory database needs no schema for /health; skipping migrations saves seconds.
      DB_MIGRATE_ON_START: "false",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_HEADERS: "authorization Bearer-sk-live-123456,x-ok=1",
      // A minute: only the flush on SIGTERM can deliver the spans.
      OTEL_BSP_SCHEDULE_DELAY: "60000",
    });
    const listening = await server.waitForLine(/"msg":"listening"/, 60_000);
    const url = String(listening.url);
    const traceIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${url}/health`);
      expect(res.status).toBe(200);
      traceIds.push(parseTraceresponse(res.headers.get("traceresponse")).traceId);
    }
    expect(receiver.spans().filter((s) => s.kind === 2)).toHaveLength(0);
    server.proc.kill("SIGTERM");
    expect(await server.exit()).toBe(0);

    const roots = receiver.spans().filter((s) => s.name === "GET /health");
    expect(roots.map((s) => s.traceId).sort()).toEqual([...traceIds].sort());
    const request = receiver.requests.find((r) => r.spans.some((s) => s.name === "GET /health"))!;
    expect(request.headers["x-ok"]).toBe("1");
    const { stdout, stderr } = server.output();
    expect(stdout).toContain('"msg":"shutting down"');
    expect(stdout).toMatch(/"msg":"telemetry shut down","spans_ended":\d+,"spans_exported":\d+,"spans_dropped":0/);
    await expect(fetch(`${url}/health`)).rejects.toThrow();

    const warnings = stderr.split("\n").filter((l) => l.includes('"level":"warn"'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("OTEL_EXPORTER_OTLP_HEADERS");
    expect(stdout + stderr).not.toContain("sk-live-123456");
  }, 90_000);

  for (const [variable, value] of [
    ["PORT", "abc"],
    ["DATABASE_URL", "mysql://user:hunter2@db/app"],
  ] as const) {
    test(`a bad ${variable} stops startup with a message naming it and exit code 1`, async () => {
      const server = spawnServer({ PORT: "0", DATABASE_URL: "memory://", [variable]: value });
      expect(await server.exit()).toBe(1);
      const { stdout, stderr } = server.output();
      expect(stderr).toContain(variable);
      expect(stdout + stderr).not.toContain("hunter2");
      expect(stdout).not.toContain('"msg":"listening"');
    }, 30_000);
  }
});
