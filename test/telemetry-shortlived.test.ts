import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { startServer } from "../src/server.ts";
import { createTelemetry, DEFAULT_TELEMETRY } from "../src/telemetry/index.ts";
import { startOtlpReceiver, type OtlpReceiver } from "./harness/otlp-receiver.ts";
import { captureLogger, tempDataDir } from "./telemetry-helpers.ts";

const FIXTURE = join(import.meta.dir, "fixtures", "telemetry-shortlived.ts");

async function runFixture(url: string, n: number, flag?: string) {
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, "run", FIXTURE, url, String(n), ...(flag ? [flag] : [])], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NODE_ENV: "test" },
  });
  const code = await proc.exited;
  return {
    code,
    ms: performance.now() - started,
    stdout: await new Response(proc.stdout).text(),
    stderr: await new Response(proc.stderr).text(),
  };
}

describe("a short-lived process flushes before it exits", () => {
  let receiver: OtlpReceiver;
  let healthyRunMs = 0;
  beforeAll(() => {
    receiver = startOtlpReceiver();
  });
  afterAll(() => receiver.stop());

  for (const [label, flag] of [
    ["without calling shutdown (flushed when the event loop empties)", undefined],
    ["with an explicit shutdown", "--shutdown"],
  ] as const) {
    test(`${label}: all N root spans and their children arrive`, async () => {
      receiver.reset();
      const n = 400;
      const run = await runFixture(receiver.url, n, flag);
      healthyRunMs = Math.max(healthyRunMs, run.ms);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const spans = receiver.spans();
      expect(spans).toHaveLength(2 * n);
      const roots = spans.filter((s) => s.name === "cli.item");
      expect(roots).toHaveLength(n);
      expect(new Set(roots.map((s) => s.attrs["item.index"]))).toEqual(new Set(Array.from({ length: n }, (_, i) => i)));
      for (const root of roots) expect(root.parentSpanId).toBe("");
      const rootIds = new Map(roots.map((r) => [r.spanId, r.traceId]));
      for (const step of spans.filter((s) => s.name === "cli.item.step")) {
        expect(rootIds.get(step.parentSpanId)).toBe(step.traceId);
      }
      expect(new Set(roots.map((r) => r.traceId)).size).toBe(n);
      expect(roots[0]!.resource["service.name"]).toBe("shortlived-fixture");
      if (flag) expect(run.stdout).toContain('"spans_exported":800');
    });
  }

  test("with the collector down, the process exits cleanly within the export timeout", async () => {
    const closed = startOtlpReceiver();
    const url = closed.url;
    await closed.stop();
    const run = await runFixture(url, 50);
    expect(run.code).toBe(0);
    // The fixture's export timeout is 1.5 s; the OTLP exporter's retries of the refused connection end there.
    expect(run.ms).toBeLessThan(healthyRunMs + 4_000);
    expect(run.stderr).toContain("trace export failing");
    expect(run.stderr.match(/trace export failing/g)).toHaveLength(1);
  });
});

describe("a failure while setting telemetry up", () => {
  test("the real exporter rejecting its options gives a no-op recorder and exactly one warning", () => {
    const { log, lines } = captureLogger();
    const telemetry = createTelemetry({ ...DEFAULT_TELEMETRY, endpoint: "not a url at all" }, { log });
    expect(telemetry.enabled).toBe(false);
    expect(telemetry.tracedSpan("x", {}, () => 5)).toBe(5);
    const warnings = lines.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.msg)).toContain("telemetry disabled");
    expect(String(warnings[0]!.error)).toContain("URL");
  });

  test("the service starts and answers with telemetry off, after one warning", async () => {
    const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "memory://", DATA_DIR: tempDataDir() });
    const database = await createTestDatabase();
    // An exporter timeout of 0 passes our types but the OTLP exporter refuses it at construction.
    const broken = { ...config, telemetry: { ...config.telemetry, batch: { ...config.telemetry.batch, exportTimeoutMs: 0 } } };
    const { log, lines } = captureLogger();
    const server = await startServer(broken, { log, database });
    try {
      expect(server.deps.telemetry.enabled).toBe(false);
      const res = await fetch(`${server.url}/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok" });
      expect((await fetch(`${server.url}/missing`)).status).toBe(404);
      const warnings = lines.filter((l) => l.level === "warn");
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]!.error)).toContain("timeoutMillis");
    } finally {
      await server.stop();
      await database.close();
    }
  }, 60_000);
});
