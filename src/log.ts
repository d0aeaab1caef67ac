/**
 * Structured JSON logs: one JSON object per line on stdout (stderr for warn/error), with a level
 * threshold. Fields that look like secrets are redacted before writing.
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET_KEY = /(api[_-]?key|token|secret|password|authorization|connection[_-]?string|database_url)/i;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stdout/stderr. Tests pass a collector. */
  write?: (line: string, level: LogLevel) => void;
  base?: Record<string, unknown>;
}

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_KEY.test(k)) out[k] = "[redacted]";
    else if (v instanceof Error) out[k] = { name: v.name, message: redactText(v.message) };
    else if (typeof v === "string") out[k] = redactText(v);
    else out[k] = v;
  }
  return out;
}

/** Removes credentials from URLs and bearer tokens from free text. */
export function redactText(text: string): string {
  return text
    .replace(/(\w+:\/\/)([^:/@\s]+):([^@\s]+)@/g, "$1$2:***@")
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, "$1***")
    .replace(/([?&](?:key|api_key|token|X-Amz-Signature|X-Amz-Credential)=)[^&\s]+/gi, "$1***");
}

function defaultWrite(line: string, level: LogLevel): void {
  if (level === "warn" || level === "error") process.stderr.write(line + "\n");
  else process.stdout.write(line + "\n");
}

/**
 * Builds a JSON-lines logger.
 *
 * @example
 * const log = createLogger({ level: "info" });
 * log.info("listening", { port: 3000 });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const write = options.write ?? defaultWrite;
  const base = options.base ?? {};
  const threshold = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < threshold) return;
    const line = { time: new Date().toISOString(), level: lvl, msg: redactText(msg), ...redact({ ...base, ...fields }) };
    write(JSON.stringify(line), lvl);
  };
  return {
    level,
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ level, write, base: { ...base, ...fields } }),
  };
}

/** A logger that writes nothing, for tests and benchmarks. */
export const silentLogger: Logger = createLogger({ level: "silent" });
