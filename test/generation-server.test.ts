import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { loadConfig } from "../src/config.ts";
import type { Database } from "../src/db/index.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { silentLogger } from "../src/log.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { createTestTelemetry, SPAN } from "../src/telemetry/index.ts";
import { inlineDataOf, startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";

// Real servers and PGlite on a loaded 2-core machine: some steps take longer than bun's 5 s default.
setDefaultTimeout(30_000);

const { telemetry, recorder } = createTestTelemetry();
let fake: FakeGemini;
let dir: string;
let database: Database;
let server: RunningServer;

beforeAll(async () => {
  fake = await startFakeGemini({ textJson: () => ({ category: "animal", toneRatio: 25, person: false, scene: false }) });
  dir = await mkdtemp(join(tmpdir(), "generation-server-"));
  database = await createTestDatabase(telemetry);
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATA_DIR: dir, LOG_LEVEL: "silent", GEMINI_API_KEY: "server-key", GEMINI_BASE_URL: fake.url });
  server = await startServer(config, { log: silentLogger, telemetry, database });
}, 30_000);
afterAll(async () => {
  await server?.stop();
  await database?.close();
  await fake?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("the started service generates with Gemini: a tone reference uploaded through /api/images is sent inline, the image is served", async () => {
  const reference = await sharp({ create: { width: 40, height: 40, channels: 3, background: "#884422" } }).png().toBuffer();
  const form = new FormData();
  form.set("file", new File([reference], "fox-tone.png", { type: "image/png" }));
  form.set("role", "tone-ref");
  form.set("category", "animal");
  form.set("caption", "warm brown tone");
  const upload = await fetch(`${server.url}/api/images`, { method: "POST", body: form });
  expect(upload.status).toBe(201);
  const uploaded = (await upload.json()) as { id: string };

  const res = await fetch(`${server.url}/api/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: "a fox curled up asleep", aspectRatio: "4:5" }),
  });
  expect(res.status).toBe(201);
  const json = (await res.json()) as { id: string; provider: string; imageUrl: string; references: { id: string; role: string }[]; traceId: string };
  expect(json.provider).toBe("gemini");
  expect(json.references).toEqual([{ id: uploaded.id, role: "tone-ref" }]);
  expect(res.headers.get("traceresponse") ?? "").toContain(json.traceId);

  const call = fake.requests.find((r) => r.action === "generateContent" && r.model === "gemini-2.5-flash-image")!;
  expect(call.apiKey).toBe("server-key");
  expect(inlineDataOf(call).map((d) => Buffer.from(d.bytes).equals(reference))).toEqual([true]);
  expect(call.body?.contents?.[0]?.parts?.[0]?.text).toContain("at 25%");

  const image = await fetch(`${server.url}${json.imageUrl}`);
  expect(image.status).toBe(200);
  expect(Buffer.from(await image.arrayBuffer()).equals(Buffer.from(fake.png))).toBe(true);
  expect(recorder.spans(json.traceId).map((s) => s.name)).toEqual(expect.arrayContaining([SPAN.generationClassify, SPAN.generationGeminiApi, SPAN.generationStore]));
});
