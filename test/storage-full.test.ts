/**
 * A full disk, for real: a small tmpfs mounted under the data directory (needs root, which CI
 * has; skipped with the reason printed where mounting is not allowed). The service answers 507
 * JSON, leaves no temp file and no row for the refused upload, keeps serving reads, and takes
 * uploads again once there is room, without a restart.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDataDir } from "../src/db/testing.ts";
import { createS3BlobStore, StorageFullError } from "../src/storage/index.ts";
import { DOCTOR_EXIT } from "../src/cli/doctor.ts";
import { runCli, spawnService, type ServiceProcess } from "./harness/service.ts";
import { scene } from "./ingest-fixtures.ts";
import { jsonOf, upload } from "./ingest-suite.shared.ts";

setDefaultTimeout(240_000);

const root = await mkdtemp(join(tmpdir(), "storage-full-"));
const mounts: string[] = [];

/** Mounts a tmpfs of `size` at `dir`; the reason it cannot, or undefined once mounted. */
function mountTmpfs(dir: string, size: string): string | undefined {
  const result = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stderr: "pipe" });
  if (result.exitCode !== 0) return `mount -t tmpfs failed (${result.stderr.toString().trim() || `exit ${result.exitCode}`})`;
  mounts.push(dir);
  return undefined;
}

function remount(dir: string, size: string): void {
  const result = Bun.spawnSync(["mount", "-o", `remount,size=${size}`, dir], { stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`remount failed: ${result.stderr.toString()}`);
}

const probe = join(root, "probe");
await mkdir(probe);
const cannotMount = process.platform !== "linux" ? "tmpfs mounts need Linux" : mountTmpfs(probe, "64k");
if (cannotMount) console.warn(`storage-full tests skipped: ${cannotMount}; they need root (CI runs as root)`);

const procs: ServiceProcess[] = [];
afterAll(async () => {
  for (const p of procs) p.proc.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited()));
  for (const dir of mounts.reverse()) Bun.spawnSync(["umount", "-l", dir]);
  await rm(root, { recursive: true, force: true });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** Uploads distinct images until one is refused; answers the 201 ids and the refusal. */
async function fillUp(url: string, seedBase: number, max = 200): Promise<{ accepted: string[]; refused: Response }> {
  const accepted: string[] = [];
  for (let i = 0; i < max; i++) {
    const response = await upload(url, await scene(seedBase + i, "png", 480, 360), { caption: `filler ${i}` });
    if (response.status !== 201) return { accepted, refused: response };
    accepted.push((await jsonOf(response)).id);
  }
  throw new Error(`no upload was refused after ${max}`);
}

async function expectStillServing(url: string, ids: string[]): Promise<void> {
  const list = await jsonOf(await fetch(`${url}/api/images?limit=100`));
  expect(list.items.map((i: { id: string }) => i.id).sort()).toEqual([...ids].sort());
  const file = await fetch(`${url}/api/images/${ids[0]}/file`);
  expect(file.status).toBe(200);
  await file.arrayBuffer();
  const search = await fetch(`${url}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "filler" }) });
  expect(search.status).toBe(200);
}

describe.skipIf(cannotMount !== undefined)("a full disk under the blob store", () => {
  let dataDir: string;
  let server: ServiceProcess;
  let url: string;
  beforeAll(async () => {
    dataDir = join(root, "blobs-full");
    await createTestDataDir(dataDir);
    await mkdir(join(dataDir, "blobs"));
    expect(mountTmpfs(join(dataDir, "blobs"), "1m")).toBeUndefined();
    server = spawnService({ DATA_DIR: dataDir });
    procs.push(server);
    url = await server.listening();
  }, 120_000);

  test("answers 507 JSON, leaves no temp file, no metadata and no row, keeps serving reads, and recovers when there is room", async () => {
    const { accepted, refused } = await fillUp(url, 9100);
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.status).toBe(507);
    expect(refused.headers.get("content-type")).toContain("application/json");
    const body = await jsonOf(refused);
    expect(body).toEqual({ error: { code: "storage_full", message: "blob storage is full: no space left on the device" } });

    const blobs = await filesUnder(join(dataDir, "blobs"));
    expect(blobs.filter((f) => f.startsWith(".tmp/"))).toEqual([]);
    // Exactly the accepted images' originals and thumbnails, with their metadata: nothing of the refused one.
    const originals = blobs.filter((f) => f.startsWith("uploads/"));
    expect(originals.map((f) => f.slice("uploads/".length, -".png".length)).sort()).toEqual([...accepted].sort());
    expect(blobs.filter((f) => f.startsWith("thumbnails/"))).toHaveLength(accepted.length);
    expect(blobs.filter((f) => f.startsWith(".meta/"))).toHaveLength(2 * accepted.length);
    await expectStillServing(url, accepted);

    remount(join(dataDir, "blobs"), "8m");
    const after = await upload(url, await scene(9999, "png", 480, 360), { caption: "room again" });
    expect(after.status).toBe(201);
  });
});

describe.skipIf(cannotMount !== undefined)("a full disk under the whole data directory (database included)", () => {
  test("uploads get 507 whichever write hits the wall first; reads keep working; the data checks clean after", async () => {
    const dataDir = join(root, "all-full");
    await mkdir(dataDir);
    expect(mountTmpfs(dataDir, "64m")).toBeUndefined();
    await createTestDataDir(dataDir);
    const server = spawnService({ DATA_DIR: dataDir });
    procs.push(server);
    const url = await server.listening();
    // Leave about 1.5 MB: room for a few uploads, then the blob files or the database run out.
    const free = Bun.spawnSync(["df", "--output=avail", "-B1", dataDir]).stdout.toString().trim().split("\n").pop()!;
    await writeFile(join(dataDir, "filler"), new Uint8Array(Math.max(0, Number(free) - 1_500_000)));

    const { accepted, refused } = await fillUp(url, 9300);
    expect(refused.status).toBe(507);
    const body = await jsonOf(refused);
    console.log(`whole data directory full after ${accepted.length} uploads: ${body.error.message}`);
    expect(body.error.code).toBe("storage_full");
    expect((await filesUnder(join(dataDir, "blobs"))).filter((f) => f.startsWith(".tmp/"))).toEqual([]);
    if (accepted.length > 0) await expectStillServing(url, accepted);
    expect((await fetch(`${url}/health`)).status).toBe(200);

    await rm(join(dataDir, "filler"));
    const after = await upload(url, await scene(9999, "png", 480, 360), { caption: "room again" });
    expect(after.status).toBe(201);
    server.proc.kill("SIGTERM");
    expect(await server.exited()).toBe(0);
    const doctor = await runCli(["src/cli/doctor.ts"], { DATA_DIR: dataDir });
    expect(doctor.stdout).toContain("no problems found");
    expect(doctor.code).toBe(DOCTOR_EXIT.clean);
  });
});

describe("an S3-compatible server out of space", () => {
  test("its 507 (MinIO's XMinioStorageFull) is a StorageFullError, the same 507 the service answers for a full local disk", async () => {
    const full = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () =>
        new Response(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>XMinioStorageFull</Code><Message>Storage backend has reached its minimum free drive threshold.</Message></Error>`,
          { status: 507, headers: { "content-type": "application/xml" } },
        ),
    });
    const store = createS3BlobStore({
      bucket: "full",
      endpoint: `http://127.0.0.1:${full.port}`,
      region: "us-east-1",
      forcePathStyle: true,
      presignTtlSeconds: 60,
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
    });
    try {
      const error = await store.put("uploads/00000000-0000-4000-8000-000000000001.png", new Uint8Array([1, 2, 3]), { contentType: "image/png" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageFullError);
      expect(error).toMatchObject({ status: 507, code: "storage_full", message: "blob storage put failed: the storage server is out of space" });
    } finally {
      await store.close();
      await full.stop(true);
    }
  });
});
