import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

/** A `bun run src/server.ts` child process and its output. */
export interface ServerProcess {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  output(): { stdout: string; stderr: string };
  /** The first log line matching `pattern`, parsed (waits for it). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Waits for the process to exit and its output to be read; the exit code. */
  exit(): Promise<number>;
}

/**
 * Starts the service as a real process (`process.execPath run src/server.ts`) with only `env`
 * (plus PATH and HOME); collects its output and finds log lines as they come.
 *
 * @example
 * const server = spawnServer({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "memory://" });
 * const { url } = await server.waitForLine(/"msg":"listening"/, 60_000);
 */
export function spawnServer(env: Record<string, string>): ServerProcess {
  const proc = Bun.spawn([process.execPath, "run", "src/server.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let stdout = "";
  let stderr = "";
  const pump = async (stream: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  };
  const done = Promise.all([pump(proc.stdout, (t) => (stdout += t)), pump(proc.stderr, (t) => (stderr += t))]);
  return {
    proc,
    output: () => ({ stdout, stderr }),
    async waitForLine(pattern, timeoutMs = 15_000) {
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline) {
        for (const line of (stdout + stderr).split("\n")) {
          if (pattern.test(line)) return JSON.parse(line);
        }
        if (proc.exitCode !== null) break;
        await Bun.sleep(20);
      }
      throw new Error(`no line matching ${pattern}; stdout=${stdout} stderr=${stderr}`);
    },
    async exit() {
      const code = await proc.exited;
      await done;
      return code;
    },
  };
}

async function statusKb(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * A process's resident memory from `/proc` (Linux), in bytes: `rss()` now, `peak()` the kernel's
 * high-water mark (VmHWM) since start or since `resetPeak()`.
 *
 * @example
 * const memory = processMemory(server.proc.pid);
 * await memory.resetPeak();
 * await burst();
 * console.log((await memory.peak()) - before);
 */
export function processMemory(pid: number) {
  return {
    rss: () => statusKb(pid, "VmRSS"),
    peak: () => statusKb(pid, "VmHWM"),
    /** `echo 5 > /proc/<pid>/clear_refs`: VmHWM restarts from the current RSS. */
    resetPeak: () => Bun.write(`/proc/${pid}/clear_refs`, "5").then(() => undefined),
  };
}
