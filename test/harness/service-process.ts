/**
 * The service as a real process (`bun run src/server.ts`), for tests and benchmarks that need
 * what an in-process app cannot show: its own resident memory, a client that really disconnects,
 * Bun's own HTTP server in front. It listens on a free port (`PORT=0`) and is found through its
 * `listening` log line.
 */
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

export interface ServiceProcess {
  url: string;
  pid: number;
  /** Everything the process wrote so far (JSON log lines). */
  output(): string;
  /** Resident set size now, in bytes (`/proc/<pid>/status` VmRSS). */
  rss(): Promise<number>;
  /** Peak resident set size since start or the last `resetPeak()`, in bytes (VmHWM). */
  peakRss(): Promise<number>;
  /** Resets the kernel's peak RSS counter (`echo 5 > /proc/<pid>/clear_refs`). */
  resetPeak(): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

async function statusField(pid: number, field: string): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * Starts the service with `env` on top of a minimal environment (an in-memory database, no
 * telemetry export, info logs) and waits until it listens.
 *
 * @example
 * const service = await startServiceProcess({ DATA_DIR: dir });
 * await fetch(`${service.url}/health`);
 * await service.stop();
 */
export async function startServiceProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServiceProcess> {
  const proc = Bun.spawn([process.execPath, "run", "src/server.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: "memory://",
      OTEL_SDK_DISABLED: "true",
      LOG_LEVEL: "info",
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const deadline = performance.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    const line = output.split("\n").find((l) => l.includes('"msg":"listening"'));
    if (line) url = (JSON.parse(line) as { url: string }).url;
    else if (proc.exitCode !== null || performance.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`the service did not start: ${output.slice(-2000)}`);
    } else await Bun.sleep(20);
  }
  const pid = proc.pid;
  return {
    url,
    pid,
    output: () => output,
    rss: () => statusField(pid, "VmRSS"),
    peakRss: () => statusField(pid, "VmHWM"),
    resetPeak: () => Bun.write(`/proc/${pid}/clear_refs`, "5").then(() => undefined),
    async stop() {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      await pumped;
      return code;
    },
  };
}
