import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostname } from "node:os";
import { dataDirService } from "../src/cli/ingest.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { createTestDataDir } from "../src/db/testing.ts";
import { DataDirLockedError, LOCK_FILE, lockDataDir, readLockHolder } from "../src/db/lock.ts";
import { startServer } from "../src/server.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";
import { ROOT } from "./harness/service.ts";
import { captureLogger } from "./telemetry-helpers.ts";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lock-test-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe("the data directory lock", () => {
  test("a second lock on a held directory fails at once naming the holder; after release it can be taken again", async () => {
    const dir = await tempDir();
    const first = lockDataDir(dir, { command: "server" });
    first.describe({ url: "http://127.0.0.1:4321" });
    expect(first.takenOverFrom).toBeUndefined();
    let error: unknown;
    try {
      lockDataDir(dir, { command: "ingest" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataDirLockedError);
    const locked = error as DataDirLockedError;
    expect(locked.holder).toMatchObject({ pid: process.pid, command: "server", url: "http://127.0.0.1:4321" });
    expect(locked.message).toContain(`in use by pid ${process.pid} (server, serving http://127.0.0.1:4321`);
    expect(locked.message).toContain("Stop that process first, or use another DATA_DIR");
    expect(locked.message).toContain("pass --url http://127.0.0.1:4321 to ingest or seed");

    first.release();
    first.release();
    // A clean release leaves an empty record (the file stays: see lock.ts), so the next holder takes over nothing.
    expect(await readFile(join(dir, LOCK_FILE), "utf8")).toBe("");
    expect(readLockHolder(dir)).toBeUndefined();
    const second = lockDataDir(dir, { command: "doctor" });
    expect(second.takenOverFrom).toBeUndefined();
    expect(readLockHolder(dir)).toMatchObject({ pid: process.pid, command: "doctor" });
    second.release();
  });

  test("a process that dies holding the lock leaves its record; the next opener takes the lock over and says from whom", async () => {
    const dir = await tempDir();
    // A real process takes the lock and is killed with SIGKILL: nothing of it can clean up.
    const holder = Bun.spawn(
      [process.execPath, "-e", `const { lockDataDir } = await import(${JSON.stringify(join(ROOT, "src/db/lock.ts"))}); lockDataDir(process.argv[1], { command: "server" }); console.log("locked"); setInterval(() => {}, 1000);`, dir],
      { cwd: ROOT, stdout: "pipe", stderr: "inherit" },
    );
    const reader = holder.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("locked");
    expect(() => lockDataDir(dir)).toThrow(`in use by pid ${holder.pid}`);
    holder.kill("SIGKILL");
    await holder.exited;
    expect(readLockHolder(dir)).toMatchObject({ pid: holder.pid, command: "server" });
    const lock = lockDataDir(dir, { command: "server" });
    expect(lock.takenOverFrom).toMatchObject({ pid: holder.pid, command: "server" });
    lock.release();
  });

  test("openDatabase locks PGlite on disk before opening it, logs a takeover, and releases on close; memory:// takes no lock", async () => {
    const dir = await tempDir();
    await createTestDataDir(dir);
    await Bun.write(join(dir, LOCK_FILE), JSON.stringify({ pid: 999_999, host: "gone", command: "seed", startedAt: "2020-01-01T00:00:00.000Z" }));
    const held = lockDataDir(dir, { command: "server" });
    const { log, lines } = captureLogger("warn");
    // Refused before PGlite is touched: an open PGlite writes postmaster.pid, and none appears.
    await expect(openDatabase({ dataDir: dir, telemetry: noopTelemetry(), log, migrate: false })).rejects.toBeInstanceOf(DataDirLockedError);
    expect(await Bun.file(join(dir, "pglite", "postmaster.pid")).exists()).toBe(false);
    held.release();

    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: 999_999, host: "gone", command: "seed", startedAt: "2020-01-01T00:00:00.000Z" }));
    const database = await openDatabase({ dataDir: dir, telemetry: noopTelemetry(), log, migrate: false, owner: "db:migrate" });
    expect(database.lock).toBeDefined();
    expect(lines.find((l) => String(l.msg).startsWith("took over the data directory lock"))).toMatchObject({ previous_pid: 999_999, previous_command: "seed" });
    expect(readLockHolder(dir)).toMatchObject({ pid: process.pid, command: "db:migrate" });
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    await database.close();
    expect(readLockHolder(dir)).toBeUndefined();

    const memoryDir = await tempDir();
    const memory = await openDatabase({ databaseUrl: "memory://", dataDir: memoryDir, telemetry: noopTelemetry(), log, migrate: false });
    expect(memory.lock).toBeUndefined();
    expect(await Bun.file(join(memoryDir, LOCK_FILE)).exists()).toBe(false);
    await memory.close();
  }, 60_000);

  test("a CLI trusts the URL in the lock only while its holder lives: a killed server's port may serve another data directory", async () => {
    const dir = await tempDir();
    // Some other service now answers on the port the dead holder recorded.
    const other = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ status: "ok" }) });
    const url = `http://127.0.0.1:${other.port}`;
    const exited = Bun.spawn(["true"]);
    await exited.exited;
    const config = loadConfig({ DATA_DIR: dir, OTEL_SDK_DISABLED: "true" });
    try {
      const record = (pid: number) => writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), command: "server", startedAt: "2020-01-01T00:00:00.000Z", url }));
      await record(process.pid);
      expect(await dataDirService(config)).toBe(url);
      await record(exited.pid);
      expect(await dataDirService(config)).toBeUndefined();
    } finally {
      await other.stop(true);
    }
  });

  test("a lock whose record cannot be written is not left held: the same process can try again", async () => {
    const dir = await tempDir();
    // A lock file on /dev/null can be locked but not truncated: the record fails, as on a full disk.
    await symlink("/dev/null", join(dir, LOCK_FILE));
    for (let attempt = 0; attempt < 2; attempt++) {
      let error: unknown;
      try {
        lockDataDir(dir, { command: "server" }).release();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(DataDirLockedError);
    }
  });

  test("a server whose start fails after it locked the data directory (its port is taken) releases the lock", async () => {
    const dir = await tempDir();
    await createTestDataDir(dir);
    const taken = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("taken") });
    try {
      const config = loadConfig({ PORT: String(taken.port), HOST: "127.0.0.1", DATA_DIR: dir, OTEL_SDK_DISABLED: "true" });
      await expect(startServer(config, { log: captureLogger().log })).rejects.toThrow();
    } finally {
      await taken.stop(true);
    }
    // Released, not merely dropped: the record is empty, so the next opener takes over nothing.
    const lock = lockDataDir(dir, { command: "server" });
    expect(lock.takenOverFrom).toBeUndefined();
    lock.release();
  }, 60_000);
});
