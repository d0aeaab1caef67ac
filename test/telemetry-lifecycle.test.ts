/**
 * Flush, shutdown and clean-up of the recorder: the defects found in review, one test each.
 */
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, readdirSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExportResultCode } from "@opentelemetry/core";
import { hookedSinks } from "../src/telemetry/exit.ts";
import { FetchTransport } from "../src/telemetry/exporter.ts";
import { createTelemetry, createTestTelemetry, resolveTelemetryConfig, type BatchExporter, type SpanBatch, type Telemetry } from "../src/telemetry/index.ts";
import { startOtlpReceiver, type OtlpReceiver } from "./harness/otlp-receiver.ts";
import { captureLogger } from "./telemetry-helpers.ts";

/** Resolves "settled" if `promise` settles within a few macrotasks, else "pending" (no clock involved). */
async function settlesPromptly(promise: Promise<unknown>): Promise<"settled" | "pending"> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5 && !settled; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled ? "settled" : "pending";
}

function withExporter(exporter: BatchExporter, env: Record<string, string> = {}): Telemetry {
  const { config } = resolveTelemetryConfig({ OTEL_BSP_SCHEDULE_DELAY: "60000", ...env });
  return createTelemetry(config, { exporter, log: captureLogger().log });
}

describe("flush and shutdown", () => {
  test("an exporter that answers synchronously: flush with less than a batch queued returns at once", async () => {
    const batches: SpanBatch[] = [];
    const telemetry = withExporter({
      export: (batch, done) => {
        batches.push(batch);
        done({ code: ExportResultCode.SUCCESS });
      },
      shutdown: async () => {},
    });
    for (let i = 0; i < 3; i++) telemetry.tracedSpan("sync", { i }, () => i);
    expect(await settlesPromptly(telemetry.flush(60_000))).toBe("settled");
    expect(batches.map((b) => b.spans)).toEqual([3]);
    expect(telemetry.stats()).toMatchObject({ ended: 3, exported: 3, dropped: 0, queued: 0, inFlight: 0 });
    expect(await settlesPromptly(telemetry.shutdown(60_000))).toBe("settled");
  });

  test("an exporter that throws: flush returns at once and the spans count as dropped", async () => {
    const telemetry = withExporter({
      export: () => {
        throw new Error("exporter bug");
      },
      shutdown: async () => {},
    });
    for (let i = 0; i < 3; i++) telemetry.tracedSpan("throws", { i }, () => i);
    expect(await settlesPromptly(telemetry.flush(60_000))).toBe("settled");
    expect(telemetry.stats()).toMatchObject({ ended: 3, exported: 0, dropped: 3, droppedExportFailed: 3, queued: 0, inFlight: 0 });
    expect(await settlesPromptly(telemetry.shutdown(60_000))).toBe("settled");
  });

  test("shutdown with nothing pending adds no wait", async () => {
    const telemetry = withExporter({ export: (_b, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: () => new Promise(() => {}) });
    telemetry.tracedSpan("one", {}, () => 1);
    await telemetry.flush();
    // Even an exporter whose shutdown never settles does not hold it up.
    expect(await settlesPromptly(telemetry.shutdown(60_000))).toBe("settled");
  });
});

describe("shutdown with the collector not answering", () => {
  let receiver: OtlpReceiver;
  beforeAll(() => {
    receiver = startOtlpReceiver({ mode: "slow", slowMs: 30_000 });
  });
  afterAll(() => receiver.stop());

  test("queued and in-flight spans count as dropped: ended = exported + dropped in the stats and the log line", async () => {
    const { config } = resolveTelemetryConfig({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "10",
      OTEL_BSP_SCHEDULE_DELAY: "60000",
      OTEL_BSP_EXPORT_TIMEOUT: "30000",
    });
    const { log, lines } = captureLogger("info");
    const telemetry = createTelemetry(config, { log });
    // 67 spans: batches of 10 go out as they fill (two in flight at once), the rest wait queued.
    for (let i = 0; i < 67; i++) telemetry.tracedSpan("stuck", { i }, () => i);
    await new Promise((resolve) => setImmediate(resolve));
    const before = telemetry.stats();
    expect(before.inFlight).toBe(20);
    expect(before.queued).toBe(47);
    await telemetry.shutdown(200);
    const after = telemetry.stats();
    expect(after).toMatchObject({ ended: 67, exported: 0, dropped: 67, queued: 0, inFlight: 0 });
    const last = lines.find((l) => l.msg === "telemetry shut down");
    expect(last).toMatchObject({ spans_ended: 67, spans_exported: 0, spans_dropped: 67 });
    // Spans that end after shutdown are counted too.
    telemetry.tracedSpan("late", {}, () => 0);
    expect(telemetry.stats()).toMatchObject({ ended: 68, dropped: 68 });
  });
});

describe("clean-up", () => {
  const statmDescriptors = () =>
    readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).endsWith("/statm");
      } catch {
        return false;
      }
    }).length;

  test.skipIf(process.platform !== "linux")("shutdown closes the /proc/self/statm descriptor", async () => {
    const before = statmDescriptors();
    const telemetries = Array.from({ length: 5 }, () => withExporter({ export: (_b, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} }));
    for (const t of telemetries) t.tracedSpan("reading", {}, () => 1);
    expect(statmDescriptors()).toBe(before + 5);
    for (const t of telemetries) await t.shutdown();
    expect(statmDescriptors()).toBe(before);
  });

  test("recorders that are never shut down are not kept alive by the exit hook", async () => {
    const make = () => {
      for (let i = 0; i < 20; i++) withExporter({ export: (_b, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} });
    };
    const before = hookedSinks();
    make();
    expect(hookedSinks()).toBe(before + 20);
    await new Promise((resolve) => setImmediate(resolve));
    Bun.gc(true);
    await new Promise((resolve) => setImmediate(resolve));
    Bun.gc(true);
    // The collector scans the stack conservatively, so one or two may survive a while.
    expect(hookedSinks()).toBeLessThanOrEqual(before + 2);
  });

  test("the recorder exposes no SDK tracer or provider whose spans would miss its context", () => {
    const { telemetry } = createTestTelemetry();
    expect(Object.keys(telemetry)).not.toContain("tracer");
    expect("tracer" in telemetry).toBe(false);
    expect("provider" in telemetry).toBe(false);
  });

  test("stats come from the sink: the in-memory recorder counts what ended", () => {
    const { telemetry, recorder } = createTestTelemetry();
    telemetry.tracedSpan("a", {}, () => telemetry.tracedSpan("b", {}, () => 1));
    expect(recorder.spans()).toHaveLength(2);
    expect(telemetry.stats()).toMatchObject({ ended: 2, exported: 2, dropped: 0, queued: 0 });
  });
});

describe("the OTLP transport", () => {
  test("shutdown ends a wait between attempts at once, and a transport shut down sends nothing", async () => {
    // The collector asks for 30 s before the next attempt; fetch answers at once, so after a few
    // macrotasks the transport is in that wait.
    const fetch = spyOn(globalThis, "fetch").mockImplementation((async () => new Response("busy", { status: 503, headers: { "retry-after": "30" } })) as unknown as typeof globalThis.fetch);
    try {
      const transport = new FetchTransport("http://127.0.0.1:9/v1/traces", {});
      const sending = transport.send(new Uint8Array([1]), 60_000);
      expect(await settlesPromptly(sending)).toBe("pending");
      expect(fetch).toHaveBeenCalledTimes(1);
      transport.shutdown();
      expect(await settlesPromptly(sending)).toBe("settled");
      expect((await sending).status).toBe("retryable");
      const after = transport.send(new Uint8Array([1]), 60_000);
      expect(await settlesPromptly(after)).toBe("settled");
      expect((await after).status).toBe("failure");
      expect(fetch).toHaveBeenCalledTimes(1);
    } finally {
      fetch.mockRestore();
    }
  });
});

describe("the service process", () => {
  /** Whether `pid` has a handler for SIGTERM (bit 15 of SigCgt in /proc/<pid>/status). */
  const catchesSigterm = async (pid: number) => {
    const mask = /SigCgt:\s+([0-9a-f]+)/.exec(await Bun.file(`/proc/${pid}/status`).text())?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n;
  };

  test.skipIf(process.platform !== "linux")("a SIGTERM during startup is handled (Bun as PID 1 would ignore it without a handler)", async () => {
    // A fresh on-disk data directory: initdb and migrations keep startup busy for seconds.
    const proc = Bun.spawn([process.execPath, "run", join(import.meta.dir, "..", "src", "server.ts")], {
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DATA_DIR: mkdtempSync(join(tmpdir(), "telemetry-early-stop-")), OTEL_SDK_DISABLED: "true", LOG_LEVEL: "info" },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      while (!(await catchesSigterm(proc.pid))) {
        expect(proc.exitCode).toBeNull();
        await Bun.sleep(5);
      }
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      const out = await new Response(proc.stdout).text();
      // Caught before the server listened: the handler was installed first.
      expect(out).toContain("shutting down before startup finished");
      expect(out).not.toContain('"msg":"listening"');
    } finally {
      proc.kill("SIGKILL");
    }
  }, 60_000);
});
