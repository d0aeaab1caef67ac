import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTelemetry, resolveTelemetryConfig, type Telemetry } from "../src/telemetry/index.ts";
import { startOtlpReceiver, type OtlpMode, type OtlpReceiver } from "./harness/otlp-receiver.ts";
import { buildApp, captureLogger } from "./telemetry-helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rig {
  telemetry: Telemetry;
  url: string;
  lines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** The real app on a real port, exporting through the real OTLP exporter to `receiver`. */
function rig(receiver: OtlpReceiver, env: Record<string, string> = {}): Rig {
  const { config, warnings } = resolveTelemetryConfig({
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: "20",
    OTEL_BSP_EXPORT_TIMEOUT: "300",
    ...env,
  });
  expect(warnings).toEqual([]);
  const { log, lines } = captureLogger("info");
  const telemetry = createTelemetry(config, { log });
  const app = buildApp(telemetry, {
    routes(app) {
      app.get("/work/:id", (c) => telemetry.tracedSpan("work.step", { "work.id": c.req.param("id") }, () => c.json({ ok: true })));
    },
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  return {
    telemetry,
    url: `http://127.0.0.1:${server.port}`,
    lines,
    async close() {
      await server.stop(true);
      await telemetry.shutdown(1_000);
    },
  };
}

/** Sends `n` sequential requests `gapMs` apart; returns each one's latency in ms. */
async function load(url: string, n: number, gapMs = 10): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const res = await fetch(`${url}/work/${i}`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    latencies.push(performance.now() - start);
    if (gapMs > 0) await sleep(gapMs);
  }
  return latencies;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const failingLines = (lines: Array<Record<string, unknown>>) => lines.filter((l) => String(l.msg).startsWith("trace export failing"));
const resumedLines = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.msg === "trace export resumed");

describe("a collector in trouble never slows or breaks requests", () => {
  let receiver: OtlpReceiver;
  let healthyMedian = 0;
  beforeAll(() => {
    receiver = startOtlpReceiver();
  });
  afterAll(() => receiver.stop());

  test("baseline: a healthy collector gets every span", async () => {
    const r = rig(receiver);
    try {
      healthyMedian = median(await load(r.url, 30, 5));
      await r.telemetry.flush();
      expect(receiver.spans()).toHaveLength(60);
      expect(r.telemetry.stats()).toMatchObject({ ended: 60, exported: 60, dropped: 0 });
      expect(failingLines(r.lines)).toHaveLength(0);
    } finally {
      await r.close();
    }
  });

  test("down: requests stay fast, one warning for the outage, export resumes by itself with one 'resumed' line", async () => {
    receiver.reset();
    const r = rig(receiver);
    try {
      await receiver.down();
      // ~1 s of traffic: batches fail at ~0, ~250 and ~750 ms (back-off doubles from 250 ms).
      const latencies = await load(r.url, 50, 20);
      expect(median(latencies)).toBeLessThan(healthyMedian * 3 + 10);
      expect(Math.max(...latencies)).toBeLessThan(250);
      const during = r.telemetry.stats();
      expect(during.failedExports).toBeGreaterThanOrEqual(2);
      expect(during.droppedExportFailed).toBeGreaterThan(0);
      expect(failingLines(r.lines)).toHaveLength(1);
      expect(failingLines(r.lines)[0]!.level).toBe("warn");
      expect(resumedLines(r.lines)).toHaveLength(0);

      receiver.up();
      // No flush here: the processor must come back on its own after its back-off.
      await load(r.url, 5, 10);
      await receiver.waitForSpans((s) => s.name === "work.step", 8_000);
      await sleep(50);
      expect(resumedLines(r.lines)).toHaveLength(1);
      const resumed = resumedLines(r.lines)[0]!;
      expect(resumed.failed_batches as number).toBeGreaterThanOrEqual(2);
      expect(resumed.spans_dropped as number).toBeGreaterThan(0);
      expect(resumed.outage_ms as number).toBeGreaterThan(0);
      expect(failingLines(r.lines)).toHaveLength(1);

      await r.telemetry.flush();
      const s = r.telemetry.stats();
      expect(s.exported).toBe(receiver.spans().length);
      expect(s.exported + s.dropped).toBe(s.ended);
      expect(s.ended).toBe(110);
    } finally {
      await r.close();
    }
  });

  const troubles: Array<[string, OtlpMode]> = [
    ["slow (longer than the export timeout)", "slow"],
    ["refusing with 400", "refuse-400"],
    ["refusing with 503", "refuse-503"],
  ];
  for (const [label, mode] of troubles) {
    test(`${label}: requests stay fast and never fail, the outage is logged once`, async () => {
      receiver.reset();
      receiver.setMode(mode, { slowMs: 3_000 });
      const r = rig(receiver);
      try {
        const latencies = await load(r.url, 40, 20);
        expect(median(latencies)).toBeLessThan(healthyMedian * 3 + 10);
        expect(Math.max(...latencies)).toBeLessThan(250);
        await r.telemetry.flush(2_000);
        await sleep(400);
        const s = r.telemetry.stats();
        expect(s.failedExports).toBeGreaterThanOrEqual(1);
        expect(s.exported).toBe(0);
        expect(receiver.requests.length).toBeGreaterThanOrEqual(1);
        expect(failingLines(r.lines)).toHaveLength(1);
        // A failed batch is counted, never retried into an unbounded backlog.
        expect(s.exported + s.dropped + s.queued + s.inFlight).toBe(s.ended);
      } finally {
        receiver.setMode("ok");
        await r.close();
      }
    });
  }
});

describe("the bounded queue", () => {
  let receiver: OtlpReceiver;
  beforeAll(() => {
    receiver = startOtlpReceiver();
  });
  afterAll(() => receiver.stop());

  test("past OTEL_BSP_MAX_QUEUE_SIZE spans are dropped and counted; exported + dropped = ended; the shutdown log carries the counts", async () => {
    const { config } = resolveTelemetryConfig({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      OTEL_BSP_MAX_QUEUE_SIZE: "16",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "8",
      OTEL_BSP_SCHEDULE_DELAY: "20",
    });
    const { log, lines } = captureLogger("info");
    const telemetry = createTelemetry(config, { log });
    // 200 spans in one synchronous burst: no export can run in between, so exactly 16 fit.
    for (let i = 0; i < 200; i++) telemetry.tracedSpan("burst", { i }, () => i);
    const during = telemetry.stats();
    expect(during.ended).toBe(200);
    expect(during.queued).toBe(16);
    expect(during.droppedQueueFull).toBe(184);

    await telemetry.flush();
    const s = telemetry.stats();
    expect(s).toMatchObject({ ended: 200, exported: 16, dropped: 184, droppedQueueFull: 184, droppedExportFailed: 0, queued: 0, inFlight: 0 });
    expect(s.exported + s.dropped).toBe(s.ended);
    expect(receiver.spans()).toHaveLength(16);
    expect(receiver.requests.every((req) => req.spans.length <= 8)).toBe(true);

    await telemetry.shutdown();
    const last = lines.find((l) => l.msg === "telemetry shut down");
    expect(last).toMatchObject({ spans_ended: 200, spans_exported: 16, spans_dropped: 184 });
  });
});
