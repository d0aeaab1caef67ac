/**
 * The embedded blob store: files under `<dataDir>/blobs`. Writes go to a temp file that is
 * renamed into place, so a reader sees the whole blob or none. Metadata (content type, cache
 * control, sha256 ETag) sits in `blobs/.meta/<key>.json`; `.meta` and `.tmp` can never be keys
 * because key segments start with a letter or digit.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { assertValidKey, assertValidPrefix } from "./keys.ts";
import type { Blob, BlobBody, BlobInfo, BlobStore, BlobStream, PutOptions } from "./types.ts";
import { InvalidKeyError } from "./types.ts";

interface Meta {
  contentType: string;
  cacheControl?: string;
  etag: string;
  size: number;
}

const TYPE_BY_EXT: Record<string, string> = {
  jpg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  avif: "image/avif",
  gif: "image/gif",
  json: "application/json",
  txt: "text/plain",
};

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * Opens a local blob store rooted at `<dataDir>/blobs` (created with the first write).
 *
 * @example
 * const store = await createLocalBlobStore("./data");
 * await store.put(thumbnailKey(id), webp, { contentType: "image/webp" });
 */
export async function createLocalBlobStore(dataDir: string): Promise<BlobStore> {
  const root = resolve(dataDir, "blobs");
  const metaRoot = join(root, ".meta");
  const tmpRoot = join(root, ".tmp");
  let ready: Promise<unknown> | undefined;
  // Directories appear with the first write, so opening a store never touches the disk.
  const ensureDirs = () => (ready ??= Promise.all([mkdir(tmpRoot, { recursive: true }), mkdir(metaRoot, { recursive: true })]).catch((error) => {
    ready = undefined;
    throw error;
  }));

  function pathOf(base: string, key: string, suffix = ""): string {
    assertValidKey(key);
    const path = resolve(base, key) + suffix;
    if (!path.startsWith(base + sep)) throw new InvalidKeyError(key);
    return path;
  }

  async function readMeta(key: string, size: number, mtime: Date): Promise<Meta> {
    try {
      return JSON.parse(await readFile(pathOf(metaRoot, key, ".json"), "utf8")) as Meta;
    } catch {
      const ext = key.slice(key.lastIndexOf(".") + 1);
      return { contentType: TYPE_BY_EXT[ext] ?? "application/octet-stream", etag: `"${mtime.getTime().toString(16)}-${size.toString(16)}"`, size };
    }
  }

  async function info(key: string): Promise<(BlobInfo & { path: string }) | null> {
    const path = pathOf(root, key);
    let stats;
    try {
      stats = await stat(path);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    if (!stats.isFile()) return null;
    const meta = await readMeta(key, stats.size, stats.mtime);
    return {
      key,
      path,
      size: stats.size,
      contentType: meta.contentType,
      etag: meta.etag,
      cacheControl: meta.cacheControl,
      lastModified: stats.mtime,
    };
  }

  async function writeTemp(body: BlobBody): Promise<{ temp: string; size: number; sha256: string }> {
    await ensureDirs();
    const temp = join(tmpRoot, randomUUID());
    const hash = createHash("sha256");
    if (body instanceof Uint8Array) {
      hash.update(body);
      await writeFile(temp, body, { flag: "wx" });
      return { temp, size: body.byteLength, sha256: hash.digest("hex") };
    }
    const handle = await open(temp, "wx");
    let size = 0;
    try {
      for await (const chunk of body) {
        hash.update(chunk);
        size += chunk.byteLength;
        await handle.write(chunk);
      }
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    return { temp, size, sha256: hash.digest("hex") };
  }

  async function walk(dir: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (dir === root && (entry.name === ".meta" || entry.name === ".tmp")) continue;
      if (entry.isDirectory()) await walk(path, out);
      else if (entry.isFile()) out.push(relative(root, path).split(sep).join("/"));
    }
  }

  return {
    kind: "local",

    async put(key: string, body: BlobBody, options: PutOptions): Promise<BlobInfo> {
      const path = pathOf(root, key);
      const metaPath = pathOf(metaRoot, key, ".json");
      const { temp, size, sha256 } = await writeTemp(body);
      const meta: Meta = { contentType: options.contentType, cacheControl: options.cacheControl, etag: `"${sha256}"`, size };
      const metaTemp = `${temp}.json`;
      try {
        await writeFile(metaTemp, JSON.stringify(meta), { flag: "wx" });
        await mkdir(dirname(path), { recursive: true });
        await mkdir(dirname(metaPath), { recursive: true });
        await rename(metaTemp, metaPath);
        await rename(temp, path);
      } catch (error) {
        await rm(temp, { force: true });
        await rm(metaTemp, { force: true });
        throw error;
      }
      return { key, size, contentType: meta.contentType, etag: meta.etag, cacheControl: meta.cacheControl, lastModified: new Date() };
    },

    async get(key: string): Promise<Blob | null> {
      const found = await info(key);
      if (!found) return null;
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(found.path));
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
      const { path: _path, ...rest } = found;
      return { ...rest, size: bytes.byteLength, bytes };
    },

    async getStream(key: string): Promise<BlobStream | null> {
      const found = await info(key);
      if (!found) return null;
      const { path, ...rest } = found;
      return { ...rest, body: Bun.file(path).stream() };
    },

    async head(key: string): Promise<BlobInfo | null> {
      const found = await info(key);
      if (!found) return null;
      const { path: _path, ...rest } = found;
      return rest;
    },

    async delete(key: string): Promise<void> {
      await rm(pathOf(root, key), { force: true });
      await rm(pathOf(metaRoot, key, ".json"), { force: true });
    },

    async list(prefix: string): Promise<string[]> {
      assertValidPrefix(prefix);
      const slash = prefix.lastIndexOf("/");
      const start = slash < 0 ? root : join(root, prefix.slice(0, slash));
      const keys: string[] = [];
      await walk(start, keys);
      return keys.filter((k) => k.startsWith(prefix)).sort();
    },

    async readUrl(): Promise<string | undefined> {
      return undefined;
    },

    async close(): Promise<void> {},
  };
}
