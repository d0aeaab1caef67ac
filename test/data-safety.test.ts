/**
 * One owner per data directory, tested with real processes: two servers on one DATA_DIR, the CLIs
 * beside a running server, and a server killed with SIGKILL right after a 201.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDataDir } from "../src/db/testing.ts";
import { DOCTOR_EXIT } from "../src/cli/doctor.ts";
import { LOCK_FILE } from "../src/db/lock.ts";
import { freePort, runCli, spawnService, type ServiceProcess } from "./harness/service.ts";
import { scene } from "./ingest-fixtures.ts";
import { jsonOf, upload } from "./ingest-suite.shared.ts";

setDefaultTimeout(180_000);

let dir: string;
let photos: string;
let first: ServiceProcess;
let firstUrl: string;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "data-safety-"));
  await createTestDataDir(join(dir, "data"));
  photos = join(dir, "photos");
  await Bun.write(join(photos, "one.jpg"), await scene(7101, "jpeg"));
  await Bun.write(join(photos, "one.txt"), "a picture uploaded by the CLI");
  first = spawnService({ DATA_DIR: join(dir, "data") });
  running.push(first);
  firstUrl = await first.listening();
}, 180_000);

afterAll(async () => {
  for (const p of running) p.proc.kill("SIGKILL");
  await Promise.all(running.map((p) => p.exited()));
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({ DATA_DIR: join(dir, "data"), PORT: String(freePort()) });

describe("a second process on a held data directory", () => {
  test("a second server fails before opening the database, naming the first's pid and URL and what to do", async () => {
    const second = spawnService({ DATA_DIR: join(dir, "data") });
    running.push(second);
    const started = performance.now();
    expect(await second.exited()).toBe(1);
    const ms = performance.now() - started;
    const out = second.output();
    expect(out).toContain(`in use by pid ${first.pid} (server, serving ${firstUrl}`);
    expect(out).toContain("Stop that process first, or use another DATA_DIR");
    expect(out).not.toContain('"msg":"database open"');
    expect(out).not.toContain('"msg":"listening"');
    console.log(`second server refused after ${Math.round(ms)} ms (process start included)`);
    // The first is unaffected.
    expect((await fetch(`${firstUrl}/health`)).status).toBe(200);
  });

  test("ingest with nothing on PORT finds the server holding DATA_DIR through its lock and uploads to it", async () => {
    const result = await runCli(["src/cli/ingest.ts", photos], env());
    expect(result.stderr).toContain(`uploading to ${firstUrl}`);
    expect(result.stdout).toContain("ingested 1, skipped 0");
    expect(result.code).toBe(0);
    const list = await jsonOf(await fetch(`${firstUrl}/api/images?limit=50`));
    expect(list.items.map((i: { caption: string }) => i.caption)).toContain("a picture uploaded by the CLI");
  });

  for (const [name, args, code] of [
    ["ingest --direct", ["src/cli/ingest.ts", "PHOTOS", "--direct"], 2],
    ["seed --direct", ["src/cli/seed.ts", "--direct"], 2],
    ["db:migrate", ["src/db/migrate.ts"], 1],
    ["doctor", ["src/cli/doctor.ts"], 8],
    ["backfill", ["src/cli/backfill.ts"], 2],
    ["backfill --check", ["src/cli/backfill.ts", "--check"], 2],
  ] as const) {
    test(`${name} beside the server refuses with exit ${code}, naming the server; --direct never bypasses the lock`, async () => {
      const result = await runCli(args.map((a) => (a === "PHOTOS" ? photos : a)), env());
      expect(result.code).toBe(code);
      expect(result.stdout + result.stderr).toContain(`in use by pid ${first.pid} (server, serving ${firstUrl}`);
      if (name.startsWith("ingest") || name.startsWith("seed")) expect(result.stderr).toContain(`pass --url ${firstUrl} to ingest or seed`);
      expect(result.stdout).not.toContain("ingested");
      // Refused before reading anything: no count, no fill.
      expect(result.stdout).not.toContain("images without");
    });
  }
});

describe("kill -9 right after a 201", () => {
  test("the next start takes the dead server's lock over (logged) and the acknowledged upload is there, bytes and all", async () => {
    const bytes = await scene(7102, "png");
    const response = await upload(firstUrl, bytes, { caption: "acknowledged then killed" });
    expect(response.status).toBe(201);
    first.proc.kill("SIGKILL");
    const image = await jsonOf(response);
    await first.exited();

    const restarted = spawnService({ DATA_DIR: join(dir, "data") });
    running.push(restarted);
    const url = await restarted.listening();
    const takeover = await restarted.waitForLine(/took over the data directory lock/);
    expect(takeover).toMatchObject({ level: "warn", previous_pid: first.pid, previous_command: "server" });

    const record = await jsonOf(await fetch(`${url}/api/images/${image.id}`));
    expect(record).toMatchObject({ id: image.id, caption: "acknowledged then killed", sha256: image.sha256 });
    const file = await fetch(`${url}/api/images/${image.id}/file`);
    expect(file.status).toBe(200);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array(bytes));

    // A clean stop empties the lock record: the next start takes nothing over.
    restarted.proc.kill("SIGTERM");
    expect(await restarted.exited()).toBe(0);
    expect(await readFile(join(dir, "data", LOCK_FILE), "utf8")).toBe("");
  });
});

describe("bun run doctor on a stopped data directory", () => {
  test("a bad setting is 'could not check' (exit 8), a code fsck's scripts know", async () => {
    const result = await runCli(["src/cli/doctor.ts"], { ...env(), PORT: "not-a-port" });
    expect(result.stderr).toContain("configuration error: PORT");
    expect(result.code).toBe(DOCTOR_EXIT.couldNotCheck);
  });

  test("reports leftovers with exit 4, repairs them with --repair (exit 1, checked again), then finds nothing (exit 0)", async () => {
    const blobs = join(dir, "data", "blobs");
    await mkdir(join(blobs, ".tmp"), { recursive: true });
    await writeFile(join(blobs, ".tmp", crypto.randomUUID()), "half a blob");
    const orphan = `uploads/${crypto.randomUUID()}.jpg`;
    await Bun.write(join(blobs, orphan), await scene(7103, "jpeg"));

    const look = await runCli(["src/cli/doctor.ts"], env());
    expect(look.stdout).toContain("PROBLEM   temp files: 1 temp file, 0 metadata files without a blob (--repair fixes 1)");
    expect(look.stdout).toContain(`PROBLEM   blobs without records: 1 blob no row points at (--repair fixes 1)`);
    expect(look.stdout).toContain(orphan);
    expect(look.code).toBe(DOCTOR_EXIT.problemsLeft);
    expect(await Bun.file(join(blobs, orphan)).exists()).toBe(true);

    const repair = await runCli(["src/cli/doctor.ts", "--repair"], env());
    expect(repair.stdout).toContain("repaired  temp files");
    expect(repair.stdout).toMatch(/repaired {2}blobs without records: .* -> moved 1 to lost-found\/\d{8}t\d{6}z\//);
    expect(repair.stdout).toContain("problems found and repaired; checked again: none left");
    expect(repair.code).toBe(DOCTOR_EXIT.repaired);
    expect(await Bun.file(join(blobs, orphan)).exists()).toBe(false);

    const clean = await runCli(["src/cli/doctor.ts"], env());
    expect(clean.stdout).toContain("no problems found");
    expect(clean.code).toBe(DOCTOR_EXIT.clean);
  });
});
