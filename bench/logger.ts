/**
 * Logger benchmark: µs per request log line (the line `requestLog` writes for every request:
 * method, route, path, status, duration, trace and span ids) through the service's logger
 * (`src/log.ts`) and through pino set up to do the same job (ISO time, level as a word, redaction
 * of secret-named keys at any depth and of credentials inside any string), both writing to a sink
 * that drops the line. Times are CPU time of this process per line. Also an error line (a nested object holding an error and a URL with a
 * password), where redaction has work to do. Rounds alternate; medians are printed.
 *
 * Run: bun run bench/logger.ts [lines=200000] [rounds=7]
 */
import { loadavg } from "node:os";
import pino from "pino";
import { createLogger, redactText, type Logger } from "../src/log.ts";

const LINES = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 7);

const requestFields = (i: number) => ({
  method: "GET",
  route: "/api/images/:id",
  path: `/api/images/0190f000-0000-7000-8000-${String(i).padStart(12, "0")}`,
  status: 200,
  duration_ms: 1.23,
  trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
  span_id: "00f067aa0ba902b7",
});
const errorFields = (i: number) => ({
  error: { name: "DatabaseUnavailableError", message: `could not reach postgres://app:Hunter2@db.example/app (attempt ${i})` },
  request: { headers: { authorization: "Bearer sk-live-SECRET" }, path: "/api/search" },
});

let written = 0;
const sink = (line: string) => {
  written += line.length;
};

const ours: Logger = createLogger({ level: "info", write: sink });

// pino doing the same job: key-path redaction is its own (`redact`), but credentials inside free
// text have no path, so a formatter walks the fields like ours does.
function redactDeep(value: unknown): unknown {
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map(redactDeep);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = /(api[_-]?key|token|secret|password|authorization)/i.test(k) ? "[redacted]" : redactDeep(v);
    return out;
  }
  return value;
}
const pinoLogger = pino(
  {
    level: "info",
    base: undefined,
    messageKey: "msg",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: (object) => redactDeep(object) as Record<string, unknown> },
  },
  { write: sink },
);

// The floor: pino with no redaction at all (what it costs before doing our job).
const pinoBare = pino({ level: "info", base: undefined, messageKey: "msg", timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, { write: sink });

const variants: Record<string, Record<string, (i: number) => void>> = {
  "request line": {
    "src/log.ts": (i) => ours.info("request", requestFields(i)),
    pino: (i) => pinoLogger.info(requestFields(i), "request"),
    "pino, no redaction": (i) => pinoBare.info(requestFields(i), "request"),
  },
  "error line": {
    "src/log.ts": (i) => ours.error("unhandled error", errorFields(i)),
    pino: (i) => pinoLogger.error(errorFields(i), "unhandled error"),
    "pino, no redaction": (i) => pinoBare.error(errorFields(i), "unhandled error"),
  },
};

/** CPU µs per line (user + system of this process): steadier than wall time on a shared machine. */
function run(fn: (i: number) => void): number {
  const started = process.cpuUsage();
  for (let i = 0; i < LINES; i++) fn(i);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / LINES;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`logger: ${LINES} lines × ${ROUNDS} rounds per variant, alternating; Bun ${Bun.version}, pino ${pino.version}, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (const [line, fns] of Object.entries(variants)) {
  for (const fn of Object.values(fns)) run(fn); // warm-up
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of Object.entries(fns)) times[name]!.push(run(fn));
  const ourMedian = median(times["src/log.ts"]!);
  for (const [name, t] of Object.entries(times)) {
    console.log(`${line.padEnd(13)} ${name.padEnd(19)} ${median(t).toFixed(2)} µs/line (rounds ${t.map((x) => x.toFixed(2)).join(" ")})${name !== "src/log.ts" ? `, ${(median(t) / ourMedian).toFixed(2)}× src/log.ts` : ""}`);
  }
}
console.log("sample lines:");
const sample: string[] = [];
createLogger({ write: (l) => sample.push(l) }).error("unhandled error", errorFields(1));
pino({ base: undefined, messageKey: "msg", timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }), log: (o) => redactDeep(o) as Record<string, unknown> } }, { write: (l: string) => void sample.push(l.trim()) }).error(errorFields(1), "unhandled error");
for (const l of sample) console.log(`  ${l}`);
if (written === 0) throw new Error("nothing was written");
