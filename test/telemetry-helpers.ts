/**
 * Shared helpers for the telemetry suites: an app built by the real `createApp` over a chosen
 * recorder, with extra routes that exercise nesting, errors and fan-out.
 */
import type { Hono } from "hono";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type AppConfig } from "../src/config.ts";
import { createApp, type AppEnv } from "../src/http/app.ts";
import { createLogger, type Logger, type LogLevel } from "../src/log.ts";
import type { Telemetry } from "../src/telemetry/index.ts";

export const TRACERESPONSE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

/** A logger whose lines land in `lines` (parsed), for asserting on what was logged. */
export function captureLogger(level: LogLevel = "debug"): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level, write: (line) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

/** The real app (tracing, request log, JSON errors) with test routes added before first use. */
export function buildApp(
  telemetry: Telemetry,
  options: { config?: AppConfig; log?: Logger; routes?: (app: Hono<AppEnv>) => void } = {},
): Hono<AppEnv> {
  const config = options.config ?? loadConfig({ DATABASE_URL: "memory://", LOG_LEVEL: "silent" });
  const app = createApp({ config, telemetry, log: options.log ?? createLogger({ level: "silent" }) });
  options.routes?.(app);
  return app;
}

/** Parses a `traceresponse` header into trace id and span id (throws when malformed). */
export function parseTraceresponse(value: string | null): { traceId: string; spanId: string } {
  const match = TRACERESPONSE.exec(value ?? "");
  if (!match) throw new Error(`bad traceresponse: ${value}`);
  return { traceId: match[1]!, spanId: match[2]! };
}

/** A fresh temporary DATA_DIR, so servers started by tests never write into the work tree. */
export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), "telemetry-test-"));
}
