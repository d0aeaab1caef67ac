/**
 * A hostile client against the real service process (`bun run src/server.ts`): oversized and
 * padded bodies, control characters in every client text field, missing and wrong keys, private
 * reads, rate limits, broken `Host` headers sent over a raw socket, and readiness while the
 * process drains after SIGTERM. Each case checks the status, the size of the answer, and that
 * nothing was stored (no row, no blob) and nothing was logged as an error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { scene } from "./ingest-fixtures.ts";
import { spawnServer, type ServerProcess } from "./harness/server-process.ts";
import { tempDataDir } from "./telemetry-helpers.ts";

const KEY = "k-hostile-0123456789abcdef";
const OTHER_KEY = "k-other-fedcba9876543210";
// Keys spent only by the rate-limit cases, so their budgets start full.
const RATE_KEY = "k-rate-0000000000000001";
const FRESH_KEY = "k-rate-0000000000000002";
/** Its own generate budget (2 a minute), for the misspelt-field test. */
const SPELL_KEY = "k-spell-0000000000000003";
const SEARCH_PER_MINUTE = 8;
const GENERATE_PER_MINUTE = 2;
const ONE_KB = 1024;

interface Running {
  server: ServerProcess;
  url: string;
  port: number;
  dataDir: string;
}

async function start(env: Record<string, string>): Promise<Running> {
  const dataDir = tempDataDir();
  const server = spawnServer({
    PORT: "0",
    HOST: "127.0.0.1",
    DATABASE_URL: "memory://",
    DATA_DIR: dataDir,
    OTEL_SDK_DISABLED: "true",
    ...env,
  });
  const listening = await server.waitForLine(/"msg":"listening"/, 90_000);
  const url = String(listening.url);
  return { server, url, port: Number(new URL(url).port), dataDir };
}

/** Files under the data directory's blob store (the local store keeps blobs there). */
function blobFiles(dataDir: string): string[] {
  const dir = join(dataDir, "blobs");
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

/**
 * Sends `head` (and then `body` chunks) over a raw TCP socket and resolves with everything the
 * server wrote once it closes the connection or a whole response (by `Content-Length`) arrived.
 */
function raw(port: number, head: string, body: Uint8Array[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const complete = () => {
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
      return length !== null && Buffer.byteLength(text.slice(end + 4)) >= Number(length[1]);
    };
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(socket) {
          socket.write(head);
          for (const chunk of body) socket.write(chunk);
        },
        data(socket, data) {
          text += new TextDecoder().decode(data);
          if (complete()) {
            socket.end();
            resolve(text);
          }
        },
        close() {
          resolve(text);
        },
        error(_socket, error) {
          reject(error);
        },
      },
    }).catch(reject);
  });
}

/** Status line, headers and body of a raw response. */
function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = text.slice(0, end < 0 ? undefined : end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(" ")[1]), headers, body: end < 0 ? "" : text.slice(end + 4) };
}

const auth = (key = KEY) => ({ authorization: `Bearer ${key}` });
const json = (key = KEY) => ({ ...auth(key), "content-type": "application/json" });

async function errorOf(res: Response): Promise<{ status: number; size: number; code: string; message: string }> {
  const text = await res.text();
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  return { status: res.status, size: Buffer.byteLength(text), code: body.error.code, message: body.error.message };
}

function upload(url: string, bytes: Uint8Array, fields: Record<string, string>, key: string | null = KEY): Promise<Response> {
  const form = new FormData();
  form.set("file", new File([bytes], "scene.jpg", { type: "image/jpeg" }));
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return fetch(`${url}/api/images`, { method: "POST", headers: key ? auth(key) : {}, body: form });
}

describe("a hostile client against the server process (API_KEYS set, reads public)", () => {
  let s: Running;
  beforeAll(async () => {
    s = await start({
      API_KEYS: [KEY, OTHER_KEY, RATE_KEY, FRESH_KEY, SPELL_KEY].join(","),
      RATE_LIMIT_SEARCH_PER_MINUTE: String(SEARCH_PER_MINUTE),
      RATE_LIMIT_GENERATE_PER_MINUTE: String(GENERATE_PER_MINUTE),
    });
  }, 120_000);
  afterAll(async () => {
    s?.server.proc.kill("SIGTERM");
    await s?.server.exit();
  });

  /** Nothing stored: no image or generation row, no blob file. */
  async function expectNothingStored() {
    const images = (await (await fetch(`${s.url}/api/images`)).json()) as { items: unknown[] };
    const generations = (await (await fetch(`${s.url}/api/generations`)).json()) as { items: unknown[] };
    expect(images.items).toEqual([]);
    expect(generations.items).toEqual([]);
    expect(blobFiles(s.dataDir)).toEqual([]);
  }

  describe("body limits", () => {
    test("a 50 MB JSON body is a JSON 413 naming MAX_JSON_BYTES before it is read", async () => {
      // Only the head and the first 64 KiB are sent: the answer must come without the rest.
      const head = `POST /api/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n`;
      const res = parseRaw(await raw(s.port, head, [new TextEncoder().encode(`{"query":"${"a".repeat(64 * 1024)}`)]));
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: "payload_too_large" } });
      expect(res.body).toContain("MAX_JSON_BYTES");
      expect(Buffer.byteLength(res.body)).toBeLessThanOrEqual(ONE_KB);
    });

    test("a body past Bun's ceiling (1 GiB) is refused by Bun itself, before the app sees it", async () => {
      const head = `POST /api/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024 * 1024}\r\n\r\n`;
      const res = parseRaw(await raw(s.port, head, [new TextEncoder().encode("{")]));
      expect(res.status).toBe(413);
      expect(Buffer.byteLength(res.body)).toBeLessThanOrEqual(ONE_KB);
    });

    test("a 12 MB body of unknown keys (declared length) is a JSON 413 naming MAX_JSON_BYTES, under 1 KB", async () => {
      const keys = Array.from({ length: 800_000 }, (_, i) => `"k${String(i).padStart(9, "0")}":1`);
      const body = `{${keys.join(",")}}`;
      expect(body.length).toBeGreaterThan(12_000_000);
      const res = await errorOf(await fetch(`${s.url}/api/search`, { method: "POST", headers: json(), body }));
      expect(res).toMatchObject({ status: 413, code: "payload_too_large" });
      expect(res.message).toContain("MAX_JSON_BYTES");
      expect(res.size).toBeLessThanOrEqual(ONE_KB);
    });

    test("the same body chunked (no length) is refused as it streams: 413, under 1 KB", async () => {
      const chunk = new TextEncoder().encode(`${Array.from({ length: 4096 }, (_, i) => `"u${i}":1,`).join("")}`);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === 0) controller.enqueue(new TextEncoder().encode("{"));
          if (sent >= 12 * 1024 * 1024) return controller.close();
          controller.enqueue(chunk);
          sent += chunk.length;
        },
      });
      const res = await errorOf(await fetch(`${s.url}/api/search`, { method: "POST", headers: json(), body: stream }));
      expect(res).toMatchObject({ status: 413, code: "payload_too_large" });
      expect(res.size).toBeLessThanOrEqual(ONE_KB);
      expect(sent).toBeLessThan(12 * 1024 * 1024);
    });

    test("unknown keys under the limit: a 400 naming five of them (clipped) and counting the rest, under 1 KB", async () => {
      const keys = Array.from({ length: 500 }, (_, i) => `"${"x".repeat(100)}${i}":1`);
      const body = `{"query":"car",${keys.join(",")}}`;
      expect(body.length).toBeLessThan(64 * 1024);
      const res = await errorOf(await fetch(`${s.url}/api/search`, { method: "POST", headers: json(), body }));
      expect(res).toMatchObject({ status: 400, code: "invalid_request" });
      expect(res.message).toMatch(/^unknown fields "x{39}…"(, "x{39}…"){4} and 495 more$/);
      expect(res.size).toBeLessThanOrEqual(ONE_KB);
    });

    test("a misspelt generate field or generations query parameter is a 400 naming it, not ignored", async () => {
      const generate = await errorOf(await fetch(`${s.url}/api/generate`, { method: "POST", headers: json(SPELL_KEY), body: '{"prompt":"a fox","aspect_ratio":"16:9"}' }));
      expect(generate).toMatchObject({ status: 400, code: "invalid_request", message: 'unknown field "aspect_ratio"' });
      const list = await errorOf(await fetch(`${s.url}/api/generations?limit=5&sort=asc`));
      expect(list).toMatchObject({ status: 400, code: "invalid_request", message: 'unknown field "sort"' });
    });

    test("a path of 8 KB is not echoed whole in the 404", async () => {
      const res = await errorOf(await fetch(`${s.url}/${"p".repeat(8000)}`));
      expect(res.status).toBe(404);
      expect(res.size).toBeLessThanOrEqual(ONE_KB);
    });
  });

  describe("control characters in client text: 400 naming the field, nothing stored, nothing logged as error", () => {
    const nul = "\u0000";
    const cases: Array<[string, string, () => Promise<Response>]> = [
      ["caption", "caption", async () => upload(s.url, await scene(1), { caption: `a red${nul}door` })],
      ["labels", "labels", async () => upload(s.url, await scene(2), { labels: `door,red${nul}` })],
      ["category", "category", async () => upload(s.url, await scene(3), { category: `${nul}doors` })],
      ["labels (ESC)", "labels", async () => upload(s.url, await scene(4), { labels: "door,\u001b[31mred" })],
      ["prompt", "prompt", () => fetch(`${s.url}/api/generate`, { method: "POST", headers: json(), body: JSON.stringify({ prompt: `a fox${nul}` }) })],
      ["generate category", "category", () => fetch(`${s.url}/api/generate`, { method: "POST", headers: json(), body: JSON.stringify({ prompt: "a fox", category: `x${nul}` }) })],
      ["query", "query", () => fetch(`${s.url}/api/search`, { method: "POST", headers: json(), body: JSON.stringify({ query: `red${nul}car` }) })],
      ["q (GET)", "q", () => fetch(`${s.url}/api/search?q=red%00car`, { headers: auth() })],
      ["filters.category", "filters.category", () => fetch(`${s.url}/api/search`, { method: "POST", headers: json(OTHER_KEY), body: JSON.stringify({ query: "car", filters: { category: `cars${nul}` } }) })],
    ];
    for (const [name, field, send] of cases) {
      test(name, async () => {
        const res = await errorOf(await send());
        expect(res).toMatchObject({ status: 400, code: "invalid_request" });
        expect(res.message).toStartWith(`${field}: must not contain control characters (U+`);
        expect(res.size).toBeLessThanOrEqual(ONE_KB);
      });
    }

    test("none of them was stored or logged as an error", async () => {
      await expectNothingStored();
      const { stdout, stderr } = s.server.output();
      expect(`${stdout}${stderr}`).not.toContain('"level":"error"');
      expect(stdout).toMatch(/"msg":"request".*"status":400/);
    });
  });

  describe("auth", () => {
    test("GET /api/search needs a key like POST does (both can call models)", async () => {
      for (const res of [await fetch(`${s.url}/api/search?q=car`), await fetch(`${s.url}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"car"}' })]) {
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toBe('Bearer realm="hybrid-image-search"');
        expect((await errorOf(res)).code).toBe("unauthorized");
      }
    });

    test("near-miss keys are refused (prefix, one character off, longer), with the invalid_token challenge", async () => {
      for (const key of [KEY.slice(0, -1), `${KEY.slice(0, -1)}0`, `${KEY}0`, KEY.toUpperCase()]) {
        const res = await fetch(`${s.url}/api/search?q=car`, { headers: auth(key) });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
      }
    });

    test("a malformed Authorization header is a 400 invalid_authorization", async () => {
      const res = await fetch(`${s.url}/api/generate`, { method: "POST", headers: { authorization: "Bearer two words", "content-type": "application/json" }, body: '{"prompt":"x"}' });
      expect(await errorOf(res)).toMatchObject({ status: 400, code: "invalid_authorization" });
    });

    test("writes need a key; reads stay public by default; probes are always open", async () => {
      expect((await upload(s.url, await scene(6), {}, null)).status).toBe(401);
      expect((await fetch(`${s.url}/api/images`)).status).toBe(200);
      expect((await fetch(`${s.url}/api/generations`)).status).toBe(200);
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      expect((await fetch(`${s.url}/health/ready`)).status).toBe(200);
      await expectNothingStored();
    });
  });

  describe("rate limits", () => {
    test(`past ${SEARCH_PER_MINUTE} searches a minute a key gets 429 with Retry-After and RateLimit-* headers; another key does not`, async () => {
      const remaining: number[] = [];
      for (let i = 0; i < SEARCH_PER_MINUTE; i++) {
        // GET and POST share one search budget.
        const res =
          i % 2 === 0
            ? await fetch(`${s.url}/api/search?q=quiet+harbour+${i}&limit=1`, { headers: auth(RATE_KEY) })
            : await fetch(`${s.url}/api/search`, { method: "POST", headers: json(RATE_KEY), body: JSON.stringify({ query: `harbour at night ${i}` }) });
        expect(res.status).toBe(200);
        expect(res.headers.get("ratelimit-limit")).toBe(String(SEARCH_PER_MINUTE));
        expect(res.headers.get("ratelimit-policy")).toBe(`${SEARCH_PER_MINUTE};w=60`);
        remaining.push(Number(res.headers.get("ratelimit-remaining")));
      }
      expect(remaining).toEqual(Array.from({ length: SEARCH_PER_MINUTE }, (_, i) => SEARCH_PER_MINUTE - 1 - i));
      const refused = await fetch(`${s.url}/api/search?q=one+more`, { headers: auth(RATE_KEY) });
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers.get("ratelimit-remaining")).toBe("0");
      expect(Number(refused.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
      const error = await errorOf(refused);
      expect(error).toMatchObject({ status: 429, code: "rate_limited" });
      expect(error.size).toBeLessThanOrEqual(ONE_KB);
      // Another key has its own budget.
      const other = await fetch(`${s.url}/api/search?q=car`, { headers: auth(FRESH_KEY) });
      expect(other.status).toBe(200);
      expect(other.headers.get("ratelimit-remaining")).toBe(String(SEARCH_PER_MINUTE - 1));
    }, 60_000);

    test(`generation has its own budget: past ${GENERATE_PER_MINUTE} a minute a valid request is refused with 429 and nothing is stored`, async () => {
      // Requests that fail validation still count (the limiter runs first) and store nothing.
      for (let i = 0; i < GENERATE_PER_MINUTE; i++) {
        const res = await fetch(`${s.url}/api/generate`, { method: "POST", headers: json(RATE_KEY), body: '{"prompt":"   "}' });
        expect(res.status).toBe(400);
        expect(res.headers.get("ratelimit-remaining")).toBe(String(GENERATE_PER_MINUTE - 1 - i));
      }
      const refused = await fetch(`${s.url}/api/generate`, { method: "POST", headers: json(RATE_KEY), body: '{"prompt":"a lighthouse"}' });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
      expect((await errorOf(refused)).code).toBe("rate_limited");
      await expectNothingStored();
    });
  });

  describe("HTTP edge cases over a raw socket", () => {
    test("GET /health over HTTP/1.0 without Host answers the liveness route", async () => {
      const res = parseRaw(await raw(s.port, "GET /health HTTP/1.0\r\n\r\n"));
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ status: "ok" });
    });

    test("GET /health/ready over HTTP/1.0 without Host answers readiness", async () => {
      const res = parseRaw(await raw(s.port, "GET /health/ready HTTP/1.0\r\n\r\n"));
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ status: "ready" });
    });

    test("the search page over HTTP/1.0 without Host, or with a malformed one, reads its query", async () => {
      for (const head of ["GET /?q=red+door HTTP/1.0\r\n\r\n", "GET /?q=red+door HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n"]) {
        const res = parseRaw(await raw(s.port, head));
        expect(res.status).toBe(200);
        expect(res.body).toContain('value="red door"');
      }
    });

    for (const host of ["a/b", "x/api", "", "exa mple:99:zz"]) {
      test(`a malformed Host (${JSON.stringify(host)}) does not shift routing`, async () => {
        const id = "0190f000-0000-7000-8000-000000000000";
        const one = parseRaw(await raw(s.port, `GET /api/images/${id} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
        expect(one.status).toBe(404);
        expect(JSON.parse(one.body)).toEqual({ error: { code: "not_found", message: `no image with id ${id}` } });
        const list = parseRaw(await raw(s.port, `GET /api/images?limit=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
        expect(list.status).toBe(200);
        expect(JSON.parse(list.body)).toHaveProperty("items");
      });
    }
  });
});

describe("PUBLIC_READS=false, and readiness while draining", () => {
  let s: Running;
  beforeAll(async () => {
    s = await start({ API_KEYS: KEY, PUBLIC_READS: "false", SHUTDOWN_GRACE_MS: "20000" });
  }, 120_000);
  afterAll(async () => {
    if (s && s.server.proc.exitCode === null) s.server.proc.kill("SIGKILL");
    await s?.server.exit();
  });

  test("listing and fetching images and generations need a key; the probes do not", async () => {
    const id = "0190f000-0000-7000-8000-000000000000";
    for (const path of ["/api/images", `/api/images/${id}`, `/api/images/${id}/file`, "/api/generations", `/api/generations/${id}`]) {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
      const withKey = await fetch(`${s.url}${path}`, { headers: auth() });
      expect([200, 404], path).toContain(withKey.status);
    }
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    expect((await fetch(`${s.url}/health/ready`)).status).toBe(200);
  });

  test("a caption may hold tabs and line breaks (the rule refuses only other control characters)", async () => {
    const res = await upload(s.url, await scene(5), { caption: "line one\n\tline two" });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { caption: string }).caption).toContain("line two");
  });

  test("after SIGTERM readiness answers 503 at once while an upload is still arriving; liveness stays 200; the upload is answered, then the process exits 0", async () => {
    const bytes = await scene(9);
    const boundary = "----hostile-drain";
    const pre = new TextEncoder().encode(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
    const post = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
    const length = pre.length + bytes.length + post.length;
    const head = `POST /api/images HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;

    // Half of the body now, the rest after the signal: the request is in flight across it.
    let socket: Bun.Socket | undefined;
    let answer = "";
    const closed = new Promise<void>((resolve) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port: s.port,
        socket: {
          open(sock) {
            socket = sock;
            sock.write(head);
            sock.write(pre);
            sock.write(bytes.subarray(0, bytes.length >> 1));
          },
          data(_sock, data) {
            answer += new TextDecoder().decode(data);
          },
          close: () => resolve(),
          error: () => resolve(),
        },
      });
    });
    while (!socket) await Bun.sleep(5);
    await Bun.sleep(100);

    s.server.proc.kill("SIGTERM");
    await s.server.waitForLine(/"msg":"shutting down"/);
    const ready = parseRaw(await raw(s.port, "GET /health/ready HTTP/1.0\r\n\r\n"));
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: "draining" });
    const live = await fetch(`${s.url}/health`);
    expect(live.status).toBe(200);
    expect(s.server.proc.exitCode).toBeNull();

    socket!.write(bytes.subarray(bytes.length >> 1));
    socket!.write(post);
    await closed;
    expect(parseRaw(answer).status).toBe(201);
    expect(await s.server.exit()).toBe(0);
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
    // A draining probe is the service doing its job, not an error.
    const { stdout, stderr } = s.server.output();
    expect(`${stdout}${stderr}`).toMatch(/"level":"warn","msg":"request".*"status":503/);
    expect(`${stdout}${stderr}`).not.toContain('"level":"error"');
  }, 60_000);
});
