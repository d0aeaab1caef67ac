/**
 * The behaviour every blob store promises, run against each implementation by
 * `storage-local.test.ts` and `storage-s3.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestTelemetry, SPAN } from "../src/telemetry/index.ts";
import { InvalidKeyError, STORAGE_ATTR, tracedBlobStore, type BlobStore } from "../src/storage/index.ts";
import type { InMemoryRecorder } from "../src/telemetry/index.ts";

export interface ContractTarget {
  /** The raw (untraced) store. */
  store: BlobStore;
  cleanup(): Promise<void>;
}

const encoder = new TextEncoder();

function streamOf(chunks: Uint8Array[], failAfter?: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (failAfter !== undefined && i === failAfter) {
        controller.error(new Error("client went away"));
        return;
      }
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  return out;
}

/**
 * Registers the contract suite for one implementation.
 *
 * @example
 * storageContract("local", async () => ({ store: await createLocalBlobStore(dir), cleanup }));
 */
export function storageContract(name: string, open: () => Promise<ContractTarget>): void {
  describe(`blob store contract: ${name}`, () => {
    let target: ContractTarget;
    let store: BlobStore;
    let recorder: InMemoryRecorder;
    const id = () => crypto.randomUUID();

    beforeAll(async () => {
      target = await open();
      const t = createTestTelemetry();
      recorder = t.recorder;
      store = tracedBlobStore(target.store, t.telemetry);
    });
    afterAll(async () => {
      await store.close();
      await target.cleanup();
    });

    test("put then get returns the same bytes, type, size and a quoted ETag", async () => {
      const key = `uploads/${id()}.png`;
      const bytes = randomBytes(4096);
      const put = await store.put(key, bytes, { contentType: "image/png", cacheControl: "public, max-age=31536000, immutable" });
      expect(put.size).toBe(4096);
      const blob = await store.get(key);
      expect(blob).not.toBeNull();
      expect(Buffer.from(blob!.bytes).equals(Buffer.from(bytes))).toBe(true);
      expect(blob!.contentType).toBe("image/png");
      expect(blob!.size).toBe(4096);
      expect(blob!.etag).toMatch(/^"[^"]+"$/);
      expect(blob!.cacheControl).toBe("public, max-age=31536000, immutable");
    });

    test("head gives the metadata; absent keys are null for get, getStream and head", async () => {
      const key = `thumbnails/${id()}.webp`;
      await store.put(key, encoder.encode("thumb"), { contentType: "image/webp" });
      const head = await store.head(key);
      expect(head).toMatchObject({ key, size: 5, contentType: "image/webp" });
      expect("bytes" in head!).toBe(false);
      const missing = `uploads/${id()}.jpg`;
      expect(await store.get(missing)).toBeNull();
      expect(await store.getStream(missing)).toBeNull();
      expect(await store.head(missing)).toBeNull();
    });

    test("getStream streams the bytes of a multi-megabyte blob", async () => {
      const key = `generated/${id()}.png`;
      const bytes = randomBytes(5 * 1024 * 1024 + 17);
      await store.put(key, bytes, { contentType: "image/png" });
      const stream = await store.getStream(key);
      expect(stream!.size).toBe(bytes.byteLength);
      const read = await readAll(stream!.body);
      expect(Buffer.from(read).equals(Buffer.from(bytes))).toBe(true);
    });

    test("a stream body is stored whole", async () => {
      const key = `uploads/${id()}.jpg`;
      const chunks = [encoder.encode("hello "), encoder.encode("streamed "), encoder.encode("world")];
      const info = await store.put(key, streamOf(chunks), { contentType: "image/jpeg" });
      expect(info.size).toBe(20);
      expect(new TextDecoder().decode((await store.get(key))!.bytes)).toBe("hello streamed world");
    });

    test("a stream that fails midway stores nothing", async () => {
      const key = `uploads/${id()}.jpg`;
      const chunks = [encoder.encode("part one "), encoder.encode("part two")];
      await expect(store.put(key, streamOf(chunks, 1), { contentType: "image/jpeg" })).rejects.toThrow();
      expect(await store.head(key)).toBeNull();
      expect(await store.list("uploads/")).not.toContain(key);
    });

    test("put replaces a blob and its ETag changes with the content", async () => {
      const key = `uploads/${id()}.gif`;
      const first = await store.put(key, encoder.encode("first"), { contentType: "image/gif" });
      const second = await store.put(key, encoder.encode("second!"), { contentType: "image/gif" });
      expect(second.etag).not.toBe(first.etag);
      const blob = await store.get(key);
      expect(new TextDecoder().decode(blob!.bytes)).toBe("second!");
      expect(blob!.etag).toBe(second.etag);
    });

    test("delete removes a blob; deleting an absent key is not an error", async () => {
      const key = `uploads/${id()}.png`;
      await store.put(key, encoder.encode("x"), { contentType: "image/png" });
      await store.delete(key);
      expect(await store.get(key)).toBeNull();
      await store.delete(key);
    });

    test("list returns the sorted keys under a prefix and nothing else", async () => {
      const category = `c${id().slice(0, 8)}`;
      const keys = [id(), id(), id()].map((u) => `refs/tone/${category}/${u}.jpg`);
      for (const key of keys) await store.put(key, encoder.encode(key), { contentType: "image/jpeg" });
      await store.put(`refs/tone/${category}x/${id()}.jpg`, encoder.encode("other pool"), { contentType: "image/jpeg" });
      await store.put(`refs/angle/${category}/${id()}.jpg`, encoder.encode("angle"), { contentType: "image/jpeg" });
      expect(await store.list(`refs/tone/${category}/`)).toEqual([...keys].sort());
      const wider = await store.list("refs/tone/");
      for (const key of keys) expect(wider).toContain(key);
      expect(wider.every((k) => k.startsWith("refs/tone/"))).toBe(true);
      expect(await store.list(`refs/tone/${category}-none/`)).toEqual([]);
    });

    test("keys outside the layout are refused and nothing is written", async () => {
      const bad = ["../escape.png", "/etc/passwd", "uploads/../../escape.png", "uploads//x.png", "Uploads/X.PNG", "", "uploads/.hidden", "uploads\\x.png", ".meta/x.json", ".tmp/x"];
      for (const key of bad) {
        await expect(store.put(key, encoder.encode("nope"), { contentType: "text/plain" })).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.get(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidKeyError);
      }
      await expect(store.list("../")).rejects.toBeInstanceOf(InvalidKeyError);
      expect((await store.list("")).some((k) => k.includes("escape") || k.includes("passwd") || k.startsWith("."))).toBe(false);
    });

    test("readUrl is either undefined (the service serves the bytes) or a URL that serves them", async () => {
      const key = `uploads/${id()}.png`;
      const bytes = randomBytes(1000);
      await store.put(key, bytes, { contentType: "image/png" });
      const url = await store.readUrl(key, { ttlSeconds: 60 });
      if (url === undefined) {
        expect(store.kind).toBe("local");
        return;
      }
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("image/png");
      expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    });

    test("put is a storage.put span and reads are storage.get spans with key and size", async () => {
      const key = `uploads/${id()}.png`;
      await store.put(key, encoder.encode("traced"), { contentType: "image/png" });
      await store.get(key);
      await store.head(`uploads/${id()}.png`);
      const put = recorder.byName(SPAN.storagePut).find((s) => s.attributes[STORAGE_ATTR.key] === key);
      expect(put?.attributes[STORAGE_ATTR.bytes]).toBe(6);
      expect(put?.attributes[STORAGE_ATTR.kind]).toBe(name);
      const get = recorder.byName(SPAN.storageGet).find((s) => s.attributes[STORAGE_ATTR.key] === key);
      expect(get?.attributes[STORAGE_ATTR.found]).toBe(true);
      expect(get?.attributes[STORAGE_ATTR.bytes]).toBe(6);
      const miss = recorder.byName(SPAN.storageGet).filter((s) => s.attributes[STORAGE_ATTR.operation] === "head").at(-1);
      expect(miss?.attributes[STORAGE_ATTR.found]).toBe(false);
      expect(typeof put?.attributes["process.cpu_user_ms"]).toBe("number");
    });
  });
}
