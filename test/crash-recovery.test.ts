/**
 * kill -9 in the middle of a burst of uploads and generations, then a restart: every 201 is there
 * with its bytes, no temp file, orphan blob or orphan metadata is left in the blob store, and no
 * generation stays running; the doctor then finds nothing. Real processes throughout.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDataDir } from "../src/db/testing.ts";
import { DOCTOR_EXIT } from "../src/cli/doctor.ts";
import { startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";
import { runCli, spawnService, type ServiceProcess } from "./harness/service.ts";
import { scene } from "./ingest-fixtures.ts";
import { jsonOf, upload } from "./ingest-suite.shared.ts";

setDefaultTimeout(240_000);

const IMAGE_MODEL = "gemini-2.5-flash-image";
let dir: string;
let dataDir: string;
let fake: FakeGemini;
const procs: ServiceProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "crash-recovery-"));
  dataDir = join(dir, "data");
  await createTestDataDir(dataDir);
  fake = await startFakeGemini();
  // The image model never answers in time: generations stay in flight until the kill.
  fake.setScenario(IMAGE_MODEL, { delayMs: 600_000, then: "image" });
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.proc.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited()));
  await fake?.stop();
  await rm(dir, { recursive: true, force: true });
});

const serviceEnv = () => ({ DATA_DIR: dataDir, GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: fake.url, GEMINI_TIMEOUT_MS: "600000" });

async function files(path: string): Promise<string[]> {
  const entries = await readdir(path, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(path.length + 1));
}

test("a burst of uploads and generations killed halfway is reconciled on restart", async () => {
  const images = await Promise.all(Array.from({ length: 40 }, (_, i) => scene(8000 + i, "jpeg")));
  const server = spawnService(serviceEnv());
  procs.push(server);
  const url = await server.listening();

  const generations = Array.from({ length: 3 }, (_, i) =>
    fetch(`${url}/api/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: `a lighthouse ${i}` }) }).catch(() => null),
  );
  while (fake.requests.filter((r) => r.model === IMAGE_MODEL).length < 3) await Bun.sleep(20);

  const acknowledged = new Map<string, Uint8Array>();
  let next = 0;
  let killed = false;
  const workers = Array.from({ length: 4 }, async () => {
    while (!killed && next < images.length) {
      const bytes = images[next++]!;
      const response = await upload(url, bytes, { caption: `burst image ${next}` }).catch(() => null);
      if (response?.status === 201) acknowledged.set((await jsonOf(response)).id, bytes);
    }
  });
  while (acknowledged.size < 12) await Bun.sleep(5);
  server.proc.kill("SIGKILL");
  killed = true;
  await Promise.all([...workers, ...generations, server.exited()]);

  // What a kill between the steps of a write leaves (it may or may not have happened just now):
  // a temp file, metadata whose blob never landed, and a blob whose row was never written.
  const orphanId = crypto.randomUUID();
  await mkdir(join(dataDir, "blobs", ".tmp"), { recursive: true });
  await writeFile(join(dataDir, "blobs", ".tmp", crypto.randomUUID()), "half a blob");
  await mkdir(join(dataDir, "blobs", ".meta", "uploads"), { recursive: true });
  await writeFile(join(dataDir, "blobs", ".meta", "uploads", `${crypto.randomUUID()}.jpg.json`), "{}");
  await Bun.write(join(dataDir, "blobs", "uploads", `${orphanId}.jpg`), images[0]!);

  const restarted = spawnService(serviceEnv());
  procs.push(restarted);
  const again = await restarted.listening();
  const reconciled = (await restarted.waitForLine(/"msg":"data reconciled"/)) as { repaired: Record<string, number>; blobs: string };
  console.log(`acknowledged ${acknowledged.size} uploads before the kill; reconciled at restart: ${JSON.stringify(reconciled.repaired)} (planted: 2 temp/metadata files, 1 orphan blob)`);
  expect(reconciled.blobs).toBe("exclusive");
  expect(reconciled.repaired["temp files"]).toBeGreaterThanOrEqual(2);
  expect(reconciled.repaired["blobs without records"]).toBeGreaterThanOrEqual(1);
  expect(reconciled.repaired["open generations"]).toBe(3);

  for (const [id, bytes] of acknowledged) {
    const record = await fetch(`${again}/api/images/${id}`);
    expect(record.status).toBe(200);
    const file = await fetch(`${again}/api/images/${id}/file`);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array(bytes));
    expect((await fetch(`${again}/api/images/${id}/thumbnail`)).status).toBe(200);
  }
  const listed = await jsonOf(await fetch(`${again}/api/generations?limit=100`));
  expect(listed.items).toHaveLength(3);
  for (const generation of listed.items) {
    expect(generation).toMatchObject({ status: "failed", error: { kind: "interrupted" } });
    expect(generation.completedAt).not.toBeNull();
  }

  restarted.proc.kill("SIGTERM");
  expect(await restarted.exited()).toBe(0);

  // The blob store holds exactly what the rows point at; the orphan sits in lost-found/.
  const blobFiles = await files(join(dataDir, "blobs"));
  expect(blobFiles.filter((f) => f.startsWith(".tmp/"))).toEqual([]);
  expect(blobFiles.filter((f) => f.startsWith("lost-found/") && f.endsWith(`uploads/${orphanId}.jpg`))).toHaveLength(1);
  const doctor = await runCli(["src/cli/doctor.ts"], serviceEnv());
  expect(doctor.stdout).toContain("ok        temp files: none");
  expect(doctor.stdout).toContain("ok        blobs without records: none");
  expect(doctor.stdout).toContain("ok        records without blobs: none");
  expect(doctor.stdout).toContain("ok        open generations: none");
  expect(doctor.stdout + doctor.stderr).toContain("no problems found");
  expect(doctor.code).toBe(DOCTOR_EXIT.clean);
});
