/**
 * The service and its CLIs as real processes (`bun run src/server.ts`, `bun run src/cli/…`), for
 * tests that need what only processes have: a lock held by another pid, a kill -9, a restart.
 */
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");

/** The environment every spawned process gets: no telemetry export, JSON logs at info. */
function baseEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "info", OTEL_SDK_DISABLED: "true", HOST: "127.0.0.1", PORT: "0", ...env };
}

/** A spawned server: its output so far, a wait for a log line, its URL once it listens. */
export interface ServiceProcess {
  proc: ReturnType<typeof Bun.spawn>;
  pid: number;
  output(): string;
  /** The first JSON log line matching `pattern`; throws when the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Waits for the `listening` line and answers the URL. */
  listening(timeoutMs?: number): Promise<string>;
  /** Exit code (signal kills give null-ish codes; see `proc.signalCode`). */
  exited(): Promise<number>;
}

/**
 * Starts `bun run src/server.ts` with `env` (on port 0, loopback, telemetry off unless overridden).
 *
 * @example
 * const server = spawnService({ DATA_DIR: dir });
 * const url = await server.listening();
 */
export function spawnService(env: Record<string, string>): ServiceProcess {
  const proc = Bun.spawn([process.execPath, "run", "src/server.ts"], { cwd: ROOT, env: baseEnv(env), stdout: "pipe", stderr: "pipe" });
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const done = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const waitForLine = async (pattern: RegExp, timeoutMs = 120_000) => {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const line = text.split("\n").find((l) => pattern.test(l));
      if (line) return JSON.parse(line) as Record<string, unknown>;
      if (proc.exitCode !== null || proc.signalCode !== null) {
        await done;
        const late = text.split("\n").find((l) => pattern.test(l));
        if (late) return JSON.parse(late) as Record<string, unknown>;
        break;
      }
      await Bun.sleep(20);
    }
    throw new Error(`no line matching ${pattern}; output:\n${text}`);
  };
  return {
    proc,
    pid: proc.pid,
    output: () => text,
    waitForLine,
    listening: async (timeoutMs) => String((await waitForLine(/"msg":"listening"/, timeoutMs)).url),
    async exited() {
      const code = await proc.exited;
      await done;
      return code;
    },
  };
}

/**
 * Runs a CLI (`src/cli/<name>.ts`, or any script path) to its end.
 *
 * @example
 * const { code, stdout, stderr } = await runCli(["src/cli/doctor.ts", "--repair"], { DATA_DIR: dir });
 */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, "run", ...args], { cwd: ROOT, env: baseEnv({ LOG_LEVEL: "", ...env }), stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr, ms: performance.now() - started };
}

/**
 * A port nothing listens on (bound, read, released).
 *
 * @example
 * const port = freePort();
 */
export function freePort(): number {
  const idle = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = idle.port;
  idle.stop(true);
  return port;
}
