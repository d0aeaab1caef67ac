import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalBlobStore } from "../src/storage/index.ts";
import { storageContract } from "./storage-contract.shared.ts";

setDefaultTimeout(30_000);

storageContract("local", async () => {
  const dir = await mkdtemp(join(tmpdir(), "blobs-"));
  return { store: await createLocalBlobStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe("local blob store", () => {
  test("files live under <dataDir>/blobs/<key>; no temp file is left behind, even after a failed write", async () => {
    const dir = await mkdtemp(join(tmpdir(), "blobs-"));
    try {
      const store = await createLocalBlobStore(dir);
      const key = `uploads/${crypto.randomUUID()}.jpg`;
      await store.put(key, new Uint8Array([1, 2, 3]), { contentType: "image/jpeg" });
      expect(await Bun.file(join(dir, "blobs", key)).bytes()).toEqual(new Uint8Array([1, 2, 3]));
      const failing = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new Uint8Array([9]));
          controller.error(new Error("boom"));
        },
      });
      await expect(store.put(`uploads/${crypto.randomUUID()}.jpg`, failing, { contentType: "image/jpeg" })).rejects.toThrow("boom");
      expect(await readdir(join(dir, "blobs", ".tmp"))).toEqual([]);
      expect(await readdir(join(dir, "blobs", "uploads"))).toEqual([key.slice("uploads/".length)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("opening a store writes nothing; reads of an empty store find nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "blobs-"));
    try {
      const store = await createLocalBlobStore(dir);
      expect(await readdir(dir)).toEqual([]);
      expect(await store.list("")).toEqual([]);
      expect(await store.get(`uploads/${crypto.randomUUID()}.png`)).toBeNull();
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the ETag is the sha256 of the content", async () => {
    const dir = await mkdtemp(join(tmpdir(), "blobs-"));
    try {
      const store = await createLocalBlobStore(dir);
      const bytes = new TextEncoder().encode("etag me");
      const info = await store.put(`uploads/${crypto.randomUUID()}.png`, bytes, { contentType: "image/png" });
      expect(info.etag).toBe(`"${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}"`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
