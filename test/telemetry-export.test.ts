import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../src/config.ts";
import type { Database } from "../src/db/index.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { createTelemetry, DOUBLE_ATTRIBUTES, PROCESS_ATTR, resolveTelemetryConfig, type Telemetry } from "../src/telemetry/index.ts";
import { startOtlpReceiver, type OtlpReceiver } from "./harness/otlp-receiver.ts";
import { buildApp, captureLogger, parseTraceresponse, tempDataDir } from "./telemetry-helpers.ts";
import pkg from "../package.json" with { type: "json" };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function burnCpu(ms: number) {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  return x;
}

let receiver: OtlpReceiver;
beforeAll(() => {
  receiver = startOtlpReceiver();
});
afterAll(() => receiver.stop());

describe("the real server exports OTLP protobuf over HTTP", () => {
  let server: RunningServer;
  let database: Database;
  const { log, lines } = captureLogger();

  beforeAll(async () => {
    database = await createTestDatabase();
    receiver.reset();
    const config = loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: "memory://",
      DATA_DIR: tempDataDir(),
      DEPLOYMENT_ENV: "staging",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_HEADERS: "x-scope-orgid=tenant-7,authorization=Basic%20c2VjcmV0",
      OTEL_RESOURCE_ATTRIBUTES: "team=search,cloud.region=eu-west-1",
      OTEL_BSP_SCHEDULE_DELAY: "50",
    });
    server = await startServer(config, { log, database });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await database?.close();
  });

  test("POST /v1/traces, application/x-protobuf, configured headers, resource attributes", async () => {
    const res = await fetch(`${server.url}/health`, { headers: { "user-agent": "export-spec" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    const { traceId, spanId } = parseTraceresponse(res.headers.get("traceresponse"));

    const [root] = await receiver.waitForSpans((s) => s.traceId === traceId);
    const request = receiver.requests.find((r) => r.spans.some((s) => s.traceId === traceId))!;
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/v1/traces");
    expect(request.contentType).toBe("application/x-protobuf");
    expect(request.headers["x-scope-orgid"]).toBe("tenant-7");
    expect(request.headers["authorization"]).toBe("Basic c2VjcmV0");
    expect(request.decodeError).toBeUndefined();

    expect(root!.spanId).toBe(spanId);
    expect(root!.parentSpanId).toBe("");
    expect(root!.name).toBe("GET /health");
    expect(root!.kind).toBe(2);
    expect(root!.flags & 0xff).toBe(1);
    expect(root!.resource).toMatchObject({
      "service.name": "hybrid-image-search",
      "service.version": pkg.version,
      "deployment.environment.name": "staging",
      team: "search",
      "cloud.region": "eu-west-1",
    });
    expect(root!.attributes["http.response.status_code"]).toEqual({ type: "int", value: 200 });
    expect(root!.attributes["http.request.method"]).toEqual({ type: "string", value: "GET" });
    expect(root!.attributes["http.route"]).toEqual({ type: "string", value: "/health" });
    expect(root!.attributes["url.path"]).toEqual({ type: "string", value: "/health" });
    expect(root!.attributes["server.address"]).toEqual({ type: "string", value: "127.0.0.1" });
    expect(root!.attributes["user_agent.original"]).toEqual({ type: "string", value: "export-spec" });
    expect(root!.endTimeUnixNano).toBeGreaterThan(root!.startTimeUnixNano);
    const now = BigInt(Date.now()) * 1_000_000n;
    expect(now - root!.startTimeUnixNano).toBeLessThan(60_000_000_000n);
    expect(root!.startTimeUnixNano).toBeLessThanOrEqual(now);
    // The header value is a credential: it must not reach the logs.
    expect(JSON.stringify(lines)).not.toContain("c2VjcmV0");
  });
});

describe("a traced route's span tree on the wire", () => {
  let telemetry: Telemetry;
  let url: string;
  let stopServer: () => void;

  beforeAll(() => {
    receiver.reset();
    const { config } = resolveTelemetryConfig(
      {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: "wire-spec",
        OTEL_BSP_SCHEDULE_DELAY: "50",
      },
      { serviceVersion: "9.9.9" },
    );
    telemetry = createTelemetry(config, { log: captureLogger().log });
    const app = buildApp(telemetry, {
      routes(app) {
        app.get("/work/:id", async (c) => {
          const id = c.req.param("id");
          await telemetry.tracedSpan("work.load", { "work.id": id, "work.flag": true, "work.ratio": 0.25, "work.absent": undefined }, async () => {
            burnCpu(20);
            await Promise.all(
              [1, 2, 3].map((k) => telemetry.tracedSpan("work.part", { "work.part": k }, async () => sleep(k))),
            );
          });
          return c.json({ id });
        });
        app.get("/fail", () => telemetry.tracedSpan("work.fail", {}, () => {
          throw new RangeError("no such thing");
        }));
      },
    });
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
    url = `http://127.0.0.1:${server.port}`;
    stopServer = () => server.stop(true);
  });
  afterAll(async () => {
    stopServer();
    await telemetry.shutdown();
  });

  test("parent ids, kinds and attribute types survive the OTLP encoding", async () => {
    const caller = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" };
    const res = await fetch(`${url}/work/77`, { headers: { traceparent: `00-${caller.traceId}-${caller.spanId}-01` } });
    expect(res.status).toBe(200);
    await telemetry.flush();
    const spans = await receiver.waitForSpans((s) => s.traceId === caller.traceId);
    expect(spans).toHaveLength(5);
    const byName = (n: string) => spans.filter((s) => s.name === n);
    const [root] = byName("GET /work/:id");
    const [load] = byName("work.load");
    const parts = byName("work.part");
    expect(root!.parentSpanId).toBe(caller.spanId);
    expect(root!.kind).toBe(2);
    expect(root!.spanId).toBe(parseTraceresponse(res.headers.get("traceresponse")).spanId);
    expect(load!.parentSpanId).toBe(root!.spanId);
    expect(load!.kind).toBe(1);
    expect(parts).toHaveLength(3);
    for (const p of parts) expect(p.parentSpanId).toBe(load!.spanId);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(5);
    expect(root!.resource).toMatchObject({ "service.name": "wire-spec", "service.version": "9.9.9", "deployment.environment.name": "development" });
    expect(root!.scope.name).toBe("wire-spec");

    expect(root!.attributes["http.response.status_code"]).toEqual({ type: "int", value: 200 });
    expect(load!.attributes["work.id"]).toEqual({ type: "string", value: "77" });
    expect(load!.attributes["work.flag"]).toEqual({ type: "bool", value: true });
    expect(load!.attributes["work.ratio"]).toEqual({ type: "double", value: 0.25 });
    // An undefined attribute is left out, not sent as an empty value.
    expect("work.absent" in load!.attributes).toBe(false);
    expect(parts.map((p) => p.attributes["work.part"]).sort((a, b) => Number(a!.value) - Number(b!.value))).toEqual([
      { type: "int", value: 1 },
      { type: "int", value: 2 },
      { type: "int", value: 3 },
    ]);
    // Process readings keep their types on the wire: CPU and resident memory are doubles even when
    // whole (so one TraceQL float filter matches every span), the memory delta is an int.
    for (const s of [load!, ...parts]) {
      for (const key of DOUBLE_ATTRIBUTES) {
        expect(s.attributes[key]!.type).toBe("double");
        expect(typeof s.attributes[key]!.value).toBe("number");
      }
      expect(s.attributes[PROCESS_ATTR.memoryDeltaKb]!.type).toBe("int");
    }
    expect(load!.attributes[PROCESS_ATTR.cpuUserMs]!.value as number).toBeGreaterThan(5);
    expect(load!.attributes[PROCESS_ATTR.memoryMb]!.value as number).toBeGreaterThan(10);
  });

  test("an error inside a stage is ERROR on both spans, with the exception event on the wire", async () => {
    const res = await fetch(`${url}/fail`);
    expect(res.status).toBe(500);
    const { traceId } = parseTraceresponse(res.headers.get("traceresponse"));
    await telemetry.flush();
    const spans = await receiver.waitForSpans((s) => s.traceId === traceId);
    expect(spans).toHaveLength(2);
    const stage = spans.find((s) => s.name === "work.fail")!;
    const root = spans.find((s) => s.name === "GET /fail")!;
    expect(stage.parentSpanId).toBe(root.spanId);
    for (const s of [stage, root]) {
      expect(s.status.code).toBe(2);
      expect(s.attrs["error.type"]).toBe("RangeError");
      const exception = s.events.find((e) => e.name === "exception")!;
      expect(exception.attributes["exception.type"]).toBe("RangeError");
      expect(exception.attributes["exception.message"]).toBe("no such thing");
    }
    expect(stage.status.message).toBe("no such thing");
    expect(root.attributes["http.response.status_code"]).toEqual({ type: "int", value: 500 });
  });

  test("stats count what left: exported + dropped = ended once idle", async () => {
    await telemetry.flush();
    const s = telemetry.stats();
    expect(s.queued).toBe(0);
    expect(s.inFlight).toBe(0);
    expect(s.ended).toBe(7);
    expect(s.exported).toBe(7);
    expect(s.exported + s.dropped).toBe(s.ended);
    expect(receiver.spans()).toHaveLength(7);
  });
});

