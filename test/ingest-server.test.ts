import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findService } from "../src/cli/ingest.ts";
import { loadConfig } from "../src/config.ts";
import type { Database } from "../src/db/client.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { bands, scene, TEXT_BYTES } from "./ingest-fixtures.ts";
import { jsonOf, upload } from "./ingest-suite.shared.ts";

setDefaultTimeout(60_000);

let dir: string;
let server: RunningServer;
let database: Database;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ingest-server-"));
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "memory://", DATA_DIR: dir, LOG_LEVEL: "silent", OTEL_SDK_DISABLED: "true" });
  database = await createTestDatabase();
  server = await startServer(config, { database });
}, 60_000);
afterAll(async () => {
  await server.stop();
  await database.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the service as started by startServer", () => {

  test("mounts the image routes over the configured database and local blob files under DATA_DIR", async () => {
    const response = await upload(server.url, await bands([{ hex: "#123456", share: 0.8 }, { hex: "#fedcba", share: 0.2 }]), { caption: "two tone", labels: "blue,sand" });
    expect(response.status).toBe(201);
    const image = await jsonOf(response);
    expect(await Bun.file(join(dir, "blobs", "uploads", `${image.id}.png`)).exists()).toBe(true);
    const file = await fetch(`${server.url}${image.url}`);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("image/png");
    const list = await jsonOf(await fetch(`${server.url}/api/images?limit=5`));
    expect(list.items.map((i: { id: string }) => i.id)).toEqual([image.id]);
  });
});

describe("the CLIs find the running service", () => {
  test("a service answering /health on PORT is used; none means ingest in-process; a given --url must answer", async () => {
    expect(await findService(loadConfig({ PORT: String(server.port) }), undefined)).toBe(server.url);
    const idle = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const freePort = idle.port;
    idle.stop(true);
    expect(await findService(loadConfig({ PORT: String(freePort) }), undefined)).toBeUndefined();
    await expect(findService(loadConfig({}), `http://127.0.0.1:${freePort}/`)).rejects.toThrow("no service answers at");
    expect(await findService(loadConfig({}), `${server.url}/`)).toBe(server.url);
  });
});

describe("bun run ingest --url (a real process uploading to the running service)", () => {
  test("ingests a folder, prints progress on stderr and a summary with reasons, exits 1 when a file failed", async () => {
    const folder = await mkdtemp(join(tmpdir(), "ingest-cli-proc-"));
    try {
      await Bun.write(join(folder, "one.jpg"), await scene(4001, "jpeg"));
      await writeFile(join(folder, "one.txt"), "first picture");
      await Bun.write(join(folder, "two.png"), await scene(4002, "png"));
      await Bun.write(join(folder, "bad.gif"), TEXT_BYTES);
      const argv = [process.execPath, "run", "src/cli/ingest.ts", folder, "--role", "tone-ref", "--category", "natural", "--concurrency", "2", "--url", server.url];
      const proc = Bun.spawn(argv, {
        cwd: join(import.meta.dir, ".."),
        env: { ...process.env, OTEL_SDK_DISABLED: "true", LOG_LEVEL: "" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      expect(stderr).toContain("3/3  100%");
      expect(stderr).toMatch(/img\/s {2}ETA/);
      expect(stdout).toContain("ingested 2, skipped 0 (already stored), failed 1");
      expect(stdout).toContain("failed: bad.gif: 415 unsupported_image_type: the file is not a JPEG, PNG, WebP, AVIF or GIF image");
      expect(code).toBe(1);
      const tone = await jsonOf(await fetch(`${server.url}/api/images?role=tone-ref&category=natural`));
      expect(tone.items.map((i: { originalName: string }) => i.originalName).sort()).toEqual(["one.jpg", "two.png"]);
      expect(tone.items.find((i: { originalName: string }) => i.originalName === "one.jpg").caption).toBe("first picture");
      const again = Bun.spawn(argv, { cwd: join(import.meta.dir, ".."), env: { ...process.env, OTEL_SDK_DISABLED: "true" }, stdout: "pipe", stderr: "ignore" });
      expect(await new Response(again.stdout).text()).toContain("ingested 0, skipped 2 (already stored), failed 1");
      await again.exited;
      const usage = Bun.spawnSync([process.execPath, "run", "src/cli/ingest.ts", folder, "--role", "hero"], { cwd: join(import.meta.dir, "..") });
      expect(usage.exitCode).toBe(2);
      expect(usage.stderr.toString()).toContain("--role must be one of corpus, tone-ref, angle-ref");
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
