/**
 * The web app in a real browser (Debian's Chromium through playwright-core) against the service
 * as a real process with the demo corpus: search by typing and by URL, colour filters, "why it
 * ranked", "more like this", the image page, uploads (new, duplicate, not an image), generation
 * with the offline renderer, the history's pages, the API-key prompt, model failures from the fake
 * Gemini, images and the rate limiter when every read needs a key, the API reference at `/docs`,
 * a phone-sized screen and labelled controls. Every step leaves a screenshot in
 * `test-results/web/`. What the page shows is checked against what the API answers for the same
 * request, and the trace id a page shows against the spans the OTLP receiver got.
 *
 * No request may leave loopback (a CDN would be caught) and no script may throw.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Page } from "playwright-core";
import sharp from "sharp";
import { startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";
import { startOtlpReceiver, type OtlpReceiver } from "./harness/otlp-receiver.ts";
import { launchBrowser, seedDemoCorpus, startServiceProcess, type ServiceProcess, type TestBrowser } from "./harness/browser.ts";
import { MAX_CAPTION_LENGTH } from "../src/ingest/label.ts";

// The functions handed to page.evaluate run in the browser; the test project has no DOM types.
declare const document: any, window: any, DataTransfer: any, DragEvent: any, sessionStorage: any;
type HTMLElement = any;
type HTMLImageElement = any;
type HTMLInputElement = any;

// Real processes, PGlite and a browser on a shared 2-core machine.
setDefaultTimeout(60_000);

const KEY = "web-test-key-7f3a";
const IMAGE_MODEL = "gemini-2.5-flash-image";
/** sessionStorage key of the web app (src/web/client/auth.ts). */
const KEY_STORAGE = "hybrid-image-search.api-key";

let otlp: OtlpReceiver;
let fake: FakeGemini;
let browser: TestBrowser;
/** Offline providers, demo corpus, Grafana links, traces to the receiver. */
let open: ServiceProcess;
/** API_KEYS set, Gemini = the fake. */
let locked: ServiceProcess;
/** API_KEYS and PUBLIC_READS=false (images through signed URLs), one generation a minute, demo corpus. */
let privateReads: ServiceProcess;

beforeAll(async () => {
  otlp = startOtlpReceiver();
  fake = await startFakeGemini({ textJson: () => ({ category: "landscape", toneRatio: 25, person: false, scene: true }) });
  const traces = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY: "100" };
  // All three settle before a failure is thrown, so afterAll stops whatever did start.
  const started = await Promise.allSettled([
    launchBrowser().then((b) => (browser = b)),
    startServiceProcess({ ...traces, GRAFANA_URL: "http://grafana.test:3000/", GRAFANA_TEMPO_UID: "tempo" }).then((s) => (open = s)),
    startServiceProcess({ ...traces, API_KEYS: KEY, GEMINI_API_KEY: "fake-key", GEMINI_BASE_URL: fake.url, GEMINI_TIMEOUT_MS: "5000" }).then((s) => (locked = s)),
    startServiceProcess({ API_KEYS: KEY, PUBLIC_READS: "false", RATE_LIMIT_GENERATE_PER_MINUTE: "1" }).then((s) => (privateReads = s)),
  ]);
  for (const result of started) if (result.status === "rejected") throw result.reason;
  await Promise.all([seedDemoCorpus(open.url), seedDemoCorpus(privateReads.url, { API_KEY: KEY })]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([open?.stop(), locked?.stop(), privateReads?.stop()]);
  await fake?.stop();
  await otlp?.stop();
});

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

interface ApiResult {
  id: string;
  rank: number;
  image: { caption: string | null; category: string | null; labels: string[]; hexColors: string[]; role: string; width: number; height: number };
  components: { text?: { rank: number; score: number }; vector?: { rank: number; score: number }; rerank?: { score: number } };
}

async function apiJson<T>(service: ServiceProcess, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = service === privateReads ? { authorization: `Bearer ${KEY}` } : {};
  const init = body === undefined ? { headers } : { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(`${service.url}${path}`, init);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const apiSearch = (body: Record<string, unknown>) => apiJson<{ results: ApiResult[] }>(open, "/api/search", { limit: 24, ...body });

/** Waits until the page's script has started (and, for detail pages, loaded its record). */
async function ready(page: Page): Promise<void> {
  await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
}

/** The image ids of the result cards, in order. */
function cardIds(page: Page): Promise<string[]> {
  return page.$$eval("#results .card a.thumb", (links) => links.map((a) => a.getAttribute("href")!.split("/").pop()!));
}

async function resultsHeading(page: Page, text: RegExp): Promise<void> {
  await page.locator("#results-title").filter({ hasText: text }).waitFor();
}

/** Waits until the first `count` images matching `selector` have loaded (a broken one never gets a width). */
async function imagesLoaded(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(
    ([sel, n]) => {
      const imgs = [...document.querySelectorAll(sel)].slice(0, n) as HTMLImageElement[];
      return imgs.length === n && imgs.every((img) => img.complete && img.naturalWidth > 0);
    },
    [selector, count] as const,
    { timeout: 20_000 },
  );
}

/** The session key set before the page's script runs (what the key dialog would store). */
async function withKey(page: Page): Promise<void> {
  await page.addInitScript(([name, key]) => sessionStorage.setItem(name!, key!), [KEY_STORAGE, KEY]);
}

/** A PNG no other test makes: a gradient with a random corner. */
async function uniquePng(): Promise<Buffer> {
  const [r, g, b] = [0, 0, 0].map(() => Math.floor(Math.random() * 256));
  const width = 320;
  const height = 240;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (r! + x) % 256;
      pixels[i + 1] = (g! + y) % 256;
      pixels[i + 2] = b!;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

// ---------------------------------------------------------------------------------------------
// search
// ---------------------------------------------------------------------------------------------

describe("search", () => {
  test("typing a query runs it, puts it in the URL, and shows the API's ranking with its trace linked to Grafana", async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url}/`);
    await ready(page);
    await page.locator("#results-title", { hasText: "Latest images" }).waitFor();
    await browser.screenshot(page, "01-search-start");

    await page.getByRole("searchbox", { name: "Search images" }).fill("calm sea at dusk");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/\?q=calm\+sea\+at\+dusk$/);
    await resultsHeading(page, /24 results for “calm sea at dusk”/);

    const api = await apiSearch({ query: "calm sea at dusk" });
    expect(await cardIds(page)).toEqual(api.results.map((r) => r.id));
    const first = page.locator("#results .card").first();
    expect(await first.locator(".caption").innerText()).toContain(api.results[0]!.image.caption!);
    expect(await first.locator("img").getAttribute("alt")).toBe(api.results[0]!.image.caption);

    const trace = page.locator("#results .meta .trace a");
    const traceId = (await trace.innerText()).trim();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const href = new URL((await trace.getAttribute("href"))!);
    expect(href.origin + href.pathname).toBe("http://grafana.test:3000/explore");
    const panes = JSON.parse(href.searchParams.get("panes")!) as { trace: { datasource: string; queries: { query: string; datasource: { uid: string } }[] } };
    expect(panes.trace.datasource).toBe("tempo");
    expect(panes.trace.queries[0]).toMatchObject({ query: traceId, queryType: "traceql", datasource: { type: "tempo", uid: "tempo" } });
    const spans = await otlp.waitForSpans((s) => s.traceId === traceId && s.name === "POST /api/search", 10_000);
    expect(spans.length).toBeGreaterThan(0);
    await browser.screenshot(page, "02-search-typed");
    await page.close();
  });

  test("a search URL renders its results on its own, with the category filter selected", async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url}/?q=red+sports+car&category=vehicle`);
    await ready(page);
    await resultsHeading(page, /results for “red sports car”, in vehicle/);
    const api = await apiSearch({ query: "red sports car", filters: { category: "vehicle" } });
    expect(api.results.length).toBeGreaterThan(0);
    expect(await cardIds(page)).toEqual(api.results.map((r) => r.id));
    expect(await page.getByLabel("Category", { exact: true }).inputValue()).toBe("vehicle");
    expect(await page.getByRole("searchbox", { name: "Search images" }).inputValue()).toBe("red sports car");
    const categories = await page.locator("#results .card a.tag").allInnerTexts();
    expect(new Set(categories)).toEqual(new Set(["vehicle"]));
    await browser.screenshot(page, "03-search-from-url");

    // Changing a filter searches again and keeps the URL in step.
    await page.getByLabel("Role", { exact: true }).selectOption("tone-ref");
    await page.waitForURL(/role=tone-ref/);
    await resultsHeading(page, /role tone-ref/);
    const toneRefs = await apiSearch({ query: "red sports car", filters: { category: "vehicle", role: "tone-ref" } });
    expect(await cardIds(page)).toEqual(toneRefs.results.map((r) => r.id));
    await page.close();
  });

  test("'why it ranked' opens from the keyboard and shows each branch's rank and score", async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url}/?q=calm+sea`);
    await ready(page);
    await resultsHeading(page, /results for “calm sea”/);
    const api = await apiSearch({ query: "calm sea" });
    const summary = page.locator("#results .why summary").first();
    await summary.focus();
    await page.keyboard.press("Enter");
    const why = page.locator("#results .why").first();
    expect(await why.getAttribute("open")).not.toBeNull();
    const text = await why.innerText();
    const { components } = api.results[0]!;
    if (components.text) expect(text).toContain(`rank ${components.text.rank} · score`);
    else expect(text).toContain("not matched by words");
    if (components.vector) expect(text).toContain(`rank ${components.vector.rank} · similarity`);
    expect(text).toMatch(/Rerank\s+[\d.]+ \((offline|gemini)\)/);
    expect(text).toMatch(/coverage [\d.]+/);
    await browser.screenshot(page, "04-why-ranked");
    await page.close();
  });

  test("filter by colour: a result's palette chip, then the picker, then clear and back", async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url}/?q=calm+sea`);
    await ready(page);
    await resultsHeading(page, /results for “calm sea”/);

    const chip = page.locator("#results .card").first().getByRole("button", { name: /^Filter by colour #/ }).first();
    const hex = /#[0-9a-f]{6}/.exec((await chip.getAttribute("aria-label"))!)![0];
    await chip.click();
    await page.waitForURL(new RegExp(`color=${hex.slice(1)}`));
    await resultsHeading(page, new RegExp(`near ${hex}`));
    const byChip = await apiSearch({ query: "calm sea", filters: { color: hex } });
    expect(await cardIds(page)).toEqual(byChip.results.map((r) => r.id));
    expect(await page.locator("#color-value").innerText()).toBe(hex);
    await browser.screenshot(page, "05-colour-from-chip");

    await page.getByLabel("Colour", { exact: true }).fill("#c0392b");
    await page.waitForURL(/color=c0392b/);
    await resultsHeading(page, /near #c0392b/);
    const byPicker = await apiSearch({ query: "calm sea", filters: { color: "#c0392b" } });
    expect(await cardIds(page)).toEqual(byPicker.results.map((r) => r.id));
    await browser.screenshot(page, "06-colour-from-picker");

    await page.getByRole("button", { name: "Clear colour" }).click();
    await page.waitForURL((url) => !url.search.includes("color="));
    await resultsHeading(page, /results for “calm sea”$/);
    await page.goBack();
    await page.waitForURL(/color=c0392b/);
    await resultsHeading(page, /near #c0392b/);
    expect(await page.getByLabel("Colour", { exact: true }).inputValue()).toBe("#c0392b");
    await page.close();
  });

  test("the category filter offers the categories in use with their counts, from GET /api/categories", async () => {
    const { items } = await apiJson<{ items: { category: string; count: number }[] }>(open, "/api/categories");
    expect(items.map((c) => c.category)).toContain("vehicle");
    const page = await browser.newPage();
    // A category the list does not know stays selected, after "any" and before the known ones.
    await page.goto(`${open.url}/?q=sea&category=no-such-category`);
    await ready(page);
    const category = page.getByLabel("Category", { exact: true });
    expect(await category.locator("option").allInnerTexts()).toEqual(["Any category", "no-such-category", ...items.map((c) => `${c.category} (${c.count})`)]);
    expect(await category.inputValue()).toBe("no-such-category");
    await page.goto(`${open.url}/generate`);
    await ready(page);
    expect(await page.locator("#categories option").evaluateAll((options) => options.map((o) => o.getAttribute("value")))).toEqual(items.map((c) => c.category));
    await page.close();
  });

  test("a search typed while more of the latest images load keeps its results when that page answers last", async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url}/`);
    await ready(page);
    await page.locator("#results-title", { hasText: "Latest images" }).waitFor();
    // The next page of the list is held until the search has answered.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/api\/images\?.*cursor=/, async (route) => {
      await held;
      await route.continue();
    });
    await page.getByRole("button", { name: "More images" }).click();
    await page.getByRole("searchbox", { name: "Search images" }).fill("calm sea at dusk");
    await page.keyboard.press("Enter");
    await resultsHeading(page, /results for “calm sea at dusk”/);
    const answered = page.waitForResponse(/\/api\/images\?.*cursor=/);
    release();
    await (await answered).finished();
    // The stale page's answer has been read by now (a few tasks after its body), and was dropped.
    await page.evaluate(() => new Promise((resolve) => window.setTimeout(resolve, 200)));
    expect(await page.locator("#results-title").innerText()).toMatch(/results for “calm sea at dusk”/);
    await page.close();
  });

  test("'more like this' searches from a result's image and leaves that image out", async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url}/?q=lighthouse`);
    await ready(page);
    await resultsHeading(page, /results for “lighthouse”/);
    const [sourceId] = await cardIds(page);
    await page.locator("#results .card").first().getByRole("link", { name: "More like this" }).click();
    await page.waitForURL(new RegExp(`\\?like=${sourceId}$`));
    await ready(page);
    await page.locator("p.like").waitFor();
    const api = await apiSearch({ imageId: sourceId });
    const ids = await cardIds(page);
    expect(ids).toEqual(api.results.map((r) => r.id));
    expect(ids).not.toContain(sourceId);
    await browser.screenshot(page, "07-more-like-this");
    await page.close();
  });
});

// ---------------------------------------------------------------------------------------------
// image page
// ---------------------------------------------------------------------------------------------

test("the image page shows the full image, caption, labels, palette, role and size, and its labels search", async () => {
  const page = await browser.newPage();
  await page.goto(`${open.url}/?q=calm+ocean`);
  await ready(page);
  await resultsHeading(page, /results for “calm ocean”/);
  const api = await apiSearch({ query: "calm ocean" });
  const top = api.results[0]!;
  await page.locator("#results .card a.thumb").first().click();
  await page.waitForURL(new RegExp(`/images/${top.id}$`));
  await ready(page);

  expect(await page.getByRole("heading", { level: 1 }).innerText()).toBe(top.image.caption!);
  const full = page.locator("figure img");
  expect(await full.getAttribute("alt")).toBe(top.image.caption);
  expect(await full.getAttribute("src")).toBe(`/api/images/${top.id}/file`);
  await page.waitForFunction(() => (document.querySelector("figure img") as HTMLImageElement | null)?.complete === true);
  expect(await full.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(top.image.width);
  const facts = await page.locator(".facts dl").innerText();
  expect(facts).toContain(`${top.image.width} × ${top.image.height} px`);
  expect(facts).toContain(top.image.role);
  expect(await page.getByRole("list", { name: /^Labels/ }).getByRole("link").allInnerTexts()).toEqual(top.image.labels);
  const chips = await page.getByRole("list", { name: /^Palette/ }).getByRole("link").allInnerTexts();
  expect(chips.map((c) => c.trim())).toEqual(top.image.hexColors);
  await browser.screenshot(page, "08-image-detail", { fullPage: true });

  const label = top.image.labels[0]!;
  await page.getByRole("list", { name: /^Labels/ }).getByRole("link", { name: label, exact: true }).click();
  await page.waitForURL((url) => url.searchParams.get("q") === label);
  await ready(page);
  await resultsHeading(page, new RegExp(`results for “${label}”`));
  await page.close();
});

// ---------------------------------------------------------------------------------------------
// upload
// ---------------------------------------------------------------------------------------------

test("upload: one file dropped and two chosen; each shows its outcome (stored, already stored, not an image)", async () => {
  const listed = await apiJson<{ items: { id: string; caption: string }[] }>(open, "/api/images?limit=1");
  const existing = listed.items[0]!;
  const duplicate = Buffer.from(await (await fetch(`${open.url}/api/images/${existing.id}/file`)).arrayBuffer());
  const fresh = await uniquePng();

  const page = await browser.newPage();
  await page.goto(`${open.url}/upload`);
  await ready(page);
  await page.getByLabel("Caption", { exact: true }).fill("A web test upload");
  await page.getByLabel("Labels", { exact: true }).fill("test, upload");
  await page.getByLabel("Category", { exact: true }).fill("testing");

  await page.evaluate(
    ({ name, base64 }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], name, { type: "image/png" }));
      document.getElementById("dropzone")!.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    },
    { name: "fresh.png", base64: fresh.toString("base64") },
  );
  await page.getByLabel("or choose files").setInputFiles([
    { name: "again.jpg", mimeType: "image/jpeg", buffer: duplicate },
    { name: "notes.png", mimeType: "image/png", buffer: Buffer.from("these are notes, not an image\n") },
  ]);
  const rows = page.locator(".queue-item");
  await rows.nth(2).waitFor();
  expect(await rows.count()).toBe(3);
  // Each row starts from the defaults and can be changed on its own.
  expect(await rows.nth(0).getByLabel("Caption").inputValue()).toBe("A web test upload");
  // A row's caption takes as much as the defaults field, whose limit the server rendered (MAX_CAPTION_LENGTH).
  expect(await rows.nth(0).getByLabel("Caption").getAttribute("maxlength")).toBe(String(MAX_CAPTION_LENGTH));
  await rows.nth(0).getByLabel("Labels").fill("test, upload, gradient");
  await browser.screenshot(page, "09-upload-queued", { fullPage: true });

  // Slowed to ~100 kB/s for a moment so the per-file progress can be seen (loopback is instant).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 100_000 });
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  const row = (name: string) => page.locator(".queue-item", { has: page.getByText(name, { exact: true }) });
  const progress = row("fresh.png").locator("progress");
  await progress.waitFor();
  await page.waitForFunction(() => {
    const bar = document.querySelector(".queue-item.uploading progress") as { value: number } | null;
    return bar !== null && bar.value > 0.2;
  });
  expect(await row("fresh.png").locator(".progress").innerText()).toMatch(/Uploading \d+ %/);
  await browser.screenshot(page, "10a-upload-progress", { fullPage: true });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await row("fresh.png").locator(".ok").waitFor();
  await row("again.jpg").locator(".dup").waitFor();
  await row("notes.png").getByRole("alert").waitFor();

  const storedId = (await row("fresh.png").getByRole("link", { name: "view it" }).getAttribute("href"))!.split("/").pop()!;
  const stored = await apiJson<{ caption: string; labels: string[]; category: string; role: string }>(open, `/api/images/${storedId}`);
  expect(stored).toMatchObject({ caption: "A web test upload", category: "testing", role: "corpus" });
  expect(stored.labels).toEqual(expect.arrayContaining(["test", "upload", "gradient"]));
  expect(await row("fresh.png").locator(".trace code").innerText()).toMatch(/^[0-9a-f]{32}$/);

  const dupLink = row("again.jpg").locator(".dup a").first();
  expect(await dupLink.getAttribute("href")).toBe(`/images/${existing.id}`);
  expect(await row("again.jpg").innerText()).toContain("Already stored");

  const refusal = await row("notes.png").getByRole("alert").innerText();
  expect(refusal).toMatch(/Not an image this service reads|The image could not be read/);
  expect(refusal).toMatch(/unsupported_image_type|invalid_image/);
  expect(refusal).not.toContain("{");
  expect(await page.getByRole("status").first().innerText()).toContain("3 files: 2 done, 1 refused");
  // The new category is suggested from now on (the list is read again after the uploads).
  await page.locator('#categories option[value="testing"]').waitFor({ state: "attached" });
  await browser.screenshot(page, "10b-upload-done", { fullPage: true });

  // "Clear finished" takes the stored rows away and lets their previews go: a revoked blob: URL no longer loads.
  const previews = await Promise.all(["fresh.png", "again.jpg"].map((name) => row(name).locator("img.preview").getAttribute("src")));
  await page.getByRole("button", { name: "Clear finished" }).click();
  await page.waitForFunction(() => document.querySelectorAll(".queue-item").length === 1);
  const loads = await page.evaluate(
    (urls) =>
      Promise.all(
        urls.map(
          (url) =>
            new Promise<boolean>((resolve) => {
              // Not fetch: the page's CSP keeps connect-src to its own origin; img-src takes blob:.
              const img = new window.Image();
              img.onload = () => resolve(true);
              img.onerror = () => resolve(false);
              img.src = url;
            }),
        ),
      ),
    previews,
  );
  expect(loads).toEqual([false, false]);
  await page.close();
});

// ---------------------------------------------------------------------------------------------
// generate
// ---------------------------------------------------------------------------------------------

describe("generate", () => {
  test("with the offline renderer: the image in its aspect ratio, the injected references linked, the palette, the trace", async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url}/generate`);
    await ready(page);
    await page.getByLabel("Prompt").fill("a lighthouse on a cliff at dawn");
    await page.getByLabel("Aspect ratio").selectOption("16:9");
    await page.getByLabel("Category", { exact: true }).fill("landscape");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("heading", { name: /^Generated in [\d.]+ s$/ }).waitFor();

    const img = page.locator(".generated figure img");
    expect(await img.getAttribute("alt")).toBe("Generated image: a lighthouse on a cliff at dawn");
    await page.waitForFunction(() => (document.querySelector(".generated figure img") as HTMLImageElement | null)?.complete === true);
    const ratio = await img.evaluate((i: HTMLImageElement) => i.naturalWidth / i.naturalHeight);
    expect(Math.abs(ratio - 16 / 9)).toBeLessThan(0.02);

    const recordId = (await page.getByRole("link", { name: "record" }).getAttribute("href"))!.split("/").pop()!;
    const record = await apiJson<{ references: { id: string; role: string }[]; hexColors: string[]; provider: string; traceId: string }>(
      open,
      `/api/generations/${recordId}`,
    );
    expect(record.provider).toBe("offline");
    expect(record.references.length).toBeGreaterThan(0);
    const refs = page.getByRole("list", { name: "Reference images injected into the prompt" }).getByRole("link");
    const hrefs = await refs.evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    expect(hrefs).toEqual(record.references.map((r) => `/images/${r.id}`));
    for (const ref of record.references) {
      const caption = (await apiJson<{ caption: string }>(open, `/api/images/${ref.id}`)).caption;
      expect(await page.locator(`.refs a[href="/images/${ref.id}"] img`).getAttribute("alt")).toBe(`${caption} (${ref.role})`);
    }
    const chips = await page.locator(".generated .palette .hex").allInnerTexts();
    expect(chips).toEqual(record.hexColors);
    expect(await page.locator(".generated .trace code").innerText()).toBe(record.traceId);
    await browser.screenshot(page, "11-generate-offline", { fullPage: true });
    await page.close();
  });

  test("history: newest first, six a page, older and newer pages", async () => {
    for (let i = 1; i <= 7; i++) await apiJson(open, "/api/generate", { prompt: `history test ${i}` });
    const first = await apiJson<{ items: { id: string }[]; nextCursor: string }>(open, "/api/generations?limit=6");
    const page2 = await apiJson<{ items: { id: string }[] }>(open, `/api/generations?limit=6&cursor=${encodeURIComponent(first.nextCursor)}`);

    const page = await browser.newPage();
    await page.goto(`${open.url}/generate`);
    await ready(page);
    const history = page.locator("#history");
    const items = history.locator(".history-item");
    await items.first().waitFor();
    const idsShown = () => items.evaluateAll((lis) => lis.map((li) => li.querySelector("a")!.getAttribute("href")!.split("/").pop()!));
    expect(await idsShown()).toEqual(first.items.map((g) => g.id));
    expect(await items.first().locator(".caption").innerText()).toBe("history test 7");
    expect(await history.getByRole("button", { name: "← Newer" }).isDisabled()).toBe(true);

    await history.getByRole("button", { name: "Older →" }).click();
    await history.getByRole("status").filter({ hasText: "Page 2" }).waitFor();
    await page.waitForFunction(() => !document.querySelector("#history ul[aria-busy=true]"));
    expect(await idsShown()).toEqual(page2.items.map((g) => g.id));
    await browser.screenshot(page, "12-history-page-2", { fullPage: true });

    await history.getByRole("button", { name: "← Newer" }).click();
    await history.getByRole("status").filter({ hasText: "Page 1" }).waitFor();
    await page.waitForFunction(() => !document.querySelector("#history ul[aria-busy=true]"));
    expect(await idsShown()).toEqual(first.items.map((g) => g.id));
    await page.close();
  });
});

// ---------------------------------------------------------------------------------------------
// API keys and failures
// ---------------------------------------------------------------------------------------------

describe("with API_KEYS set", () => {
  test("the page asks for a key once, explains a refused one, and keeps a good one for the session", async () => {
    const page = await browser.newPage();
    await page.goto(`${locked.url}/?q=sea`);
    const dialog = page.getByRole("dialog", { name: "API key" });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain("This service needs an API key");
    await browser.screenshot(page, "13-api-key-prompt");

    await dialog.getByLabel("API key").fill("not-the-key");
    await dialog.getByRole("button", { name: "Use this key" }).click();
    await dialog.getByText("did not accept that key (401)").waitFor();
    await browser.screenshot(page, "14-api-key-refused");

    await dialog.getByLabel("API key").fill(KEY);
    await dialog.getByRole("button", { name: "Use this key" }).click();
    await resultsHeading(page, /for “sea”/);
    expect(await page.locator("#key-status").innerText()).toBe("API key set for this session");
    expect(await page.evaluate((k) => sessionStorage.getItem(k), KEY_STORAGE)).toBe(KEY);

    await page.reload();
    await ready(page);
    await resultsHeading(page, /for “sea”/);
    expect(await dialog.isVisible()).toBe(false);

    // Forgotten and then refused to give one: the page says what is missing, in words.
    await page.getByRole("button", { name: "Forget key" }).click();
    await page.getByRole("searchbox", { name: "Search images" }).fill("sea cliffs");
    await page.keyboard.press("Enter");
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    const alert = page.locator("#results").getByRole("alert");
    await alert.waitFor();
    expect(await alert.innerText()).toContain("An API key is needed");
    expect(await alert.innerText()).toContain("unauthorized");
    await browser.screenshot(page, "15-api-key-missing");
    await page.close();
  });

  test("a model failure is shown readably: progress while the model works, the safety block, the rate limit with its retry time", async () => {
    const page = await browser.newPage();
    await withKey(page);
    await page.goto(`${locked.url}/generate`);
    await ready(page);

    fake.setScenario(IMAGE_MODEL, { delayMs: 1_500, then: "safety" });
    await page.getByLabel("Prompt").fill("something the model will refuse");
    await page.getByRole("button", { name: "Generate" }).click();
    const working = page.locator("#run").getByRole("status");
    await working.filter({ hasText: "The model is working" }).waitFor();
    await page.waitForFunction(() => Number.parseFloat(document.querySelector(".elapsed")?.textContent ?? "0") >= 0.5);
    expect(await page.getByRole("button", { name: "Generate" }).isDisabled()).toBe(true);
    await browser.screenshot(page, "16-generate-progress");

    const alert = page.locator("#run").getByRole("alert");
    await alert.waitFor();
    const safety = await alert.innerText();
    expect(safety).toContain("Blocked by the model's safety filter");
    expect(safety).toContain("safety_blocked");
    expect(safety).toMatch(/trace [0-9a-f]{32}/);
    await browser.screenshot(page, "17-generate-safety-block");
    const failedRecord = (await alert.getByRole("link", { name: "the failed generation's record" }).getAttribute("href"))!;

    fake.setScenario(IMAGE_MODEL, { status: 429, retryAfter: "45" });
    await page.getByRole("button", { name: "Generate" }).click();
    await page.locator("#run").getByRole("alert").filter({ hasText: "rate limit" }).waitFor();
    const limited = await page.locator("#run").getByRole("alert").innerText();
    expect(limited).toContain("The model's rate limit was reached");
    expect(limited).toContain("Try again in 45 seconds");
    expect(limited).toContain("rate_limited");
    await browser.screenshot(page, "18-generate-rate-limited");

    // The history lists both failures with their kinds, and the stored record says the same.
    await page.locator("#history .history-item.failed").nth(1).waitFor();
    expect(await page.locator("#history .history-item").first().innerText()).toContain("rate_limited");
    await page.goto(`${locked.url}${failedRecord}`);
    await ready(page);
    const stored = await page.getByRole("alert").innerText();
    expect(stored).toContain("Blocked by the model's safety filter");
    expect(stored).not.toContain("the failed generation's record");
    const facts = await page.locator(".facts dl").innerText();
    // The stored order of a JSON object's keys is the database's: match each field, not the order.
    for (const part of ["category landscape", "source gemini", "toneRatio 25", "scene yes"]) expect(facts).toMatch(new RegExp(`classification \\([^)]*${part}`));
    expect(facts).not.toContain("[object Object]");
    expect(await page.getByRole("heading", { level: 1 }).innerText()).toBe("something the model will refuse");
    await browser.screenshot(page, "19-generation-failed-record", { fullPage: true });
    fake.setScenario(IMAGE_MODEL, "image");
    await page.close();
  });

});

describe("with API_KEYS and PUBLIC_READS=false", () => {
  const SIGNED = /\?expires=\d+&signature=[\w-]{22}$/;

  test("thumbnails, full images and the category filter work through the key and signed image URLs; bare image URLs stay refused", async () => {
    const page = await browser.newPage();
    await withKey(page);
    await page.goto(`${privateReads.url}/?q=calm+sea`);
    await ready(page);
    await resultsHeading(page, /results for “calm sea”/);
    await imagesLoaded(page, "#results .card img", 4);
    const src = (await page.locator("#results .card img").first().getAttribute("src"))!;
    expect(src).toMatch(new RegExp(`^/api/images/[0-9a-f-]{36}/thumbnail${SIGNED.source}`));
    // The policy holds: without the signature the same image needs the key.
    const bare = src.split("?")[0]!;
    expect((await fetch(`${privateReads.url}${bare}`)).status).toBe(401);
    expect((await fetch(`${privateReads.url}${src}`)).status).toBe(200);

    // The server renders no category (it reads nothing without a key); the script fills them from the API.
    const categories = await apiJson<{ items: { category: string; count: number }[] }>(privateReads, "/api/categories");
    expect(categories.items.length).toBeGreaterThan(3);
    const options = await page.getByLabel("Category", { exact: true }).locator("option").allInnerTexts();
    expect(options).toEqual(["Any category", ...categories.items.map((c) => `${c.category} (${c.count})`)]);
    await browser.screenshot(page, "20a-private-search");

    await page.locator("#results .card a.thumb").first().click();
    await page.waitForURL(/\/images\/[0-9a-f-]{36}$/);
    await ready(page);
    await imagesLoaded(page, "figure img", 1);
    expect(await page.locator("figure img").getAttribute("src")).toMatch(SIGNED);
    expect(await page.getByRole("link", { name: "Full-size file" }).getAttribute("href")).toMatch(SIGNED);
    await browser.screenshot(page, "20b-private-image");
    await page.close();
  });

  test("generation shows its image and references through signed URLs; a second one within the minute meets the real rate limiter (429) in words", async () => {
    const page = await browser.newPage();
    await withKey(page);
    await page.goto(`${privateReads.url}/generate`);
    await ready(page);
    await page.getByLabel("Prompt").fill("a calm sea at dusk");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByRole("heading", { name: /^Generated in [\d.]+ s$/ }).waitFor();
    await imagesLoaded(page, ".generated figure img", 1);
    const references = await page.locator(".generated .refs img").count();
    expect(references).toBeGreaterThan(0);
    await imagesLoaded(page, ".generated .refs img", references);
    expect(await page.locator(".generated .refs img").first().getAttribute("src")).toMatch(SIGNED);
    await page.locator("#history .history-item").first().waitFor();
    await imagesLoaded(page, "#history .history-item img", 1);
    const stored = (await apiJson<{ items: unknown[] }>(privateReads, "/api/generations")).items.length;

    // RATE_LIMIT_GENERATE_PER_MINUTE=1: the service's own limiter refuses the second one.
    const refused = page.waitForResponse((r) => r.url().endsWith("/api/generate") && r.request().method() === "POST");
    await page.getByRole("textbox", { name: "Prompt" }).fill("a second lighthouse");
    await page.getByRole("button", { name: "Generate" }).click();
    const response = await refused;
    expect(response.status()).toBe(429);
    const headers = response.headers();
    expect(headers["ratelimit-limit"]).toBe("1");
    const wait = Number(headers["retry-after"]);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    const alert = page.locator("#run").getByRole("alert");
    await alert.waitFor();
    const text = await alert.innerText();
    expect(text).toContain("Too many requests");
    expect(text).toContain(wait <= 1 ? "Try again in a second" : `Try again in ${wait} seconds`);
    expect(text).toContain("rate_limited");
    expect(text).toContain("generate limit of 1 requests a minute reached");
    expect(text).not.toContain("{");
    await browser.screenshot(page, "20c-private-generate-rate-limited");
    // Refused before the pipeline: nothing new was stored.
    expect((await apiJson<{ items: unknown[] }>(privateReads, "/api/generations")).items.length).toBe(stored);
    await page.close();
  });
});

// ---------------------------------------------------------------------------------------------
// the API reference
// ---------------------------------------------------------------------------------------------

test("/docs renders every operation of /openapi.json from this service alone: no request past loopback, no console error, no CSP violation", async () => {
  const doc = await apiJson<{ paths: Record<string, Record<string, unknown>> }>(open, "/openapi.json");
  const operations = Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
  expect(operations.length).toBeGreaterThanOrEqual(14);

  const page = await browser.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on("request", (request) => {
    if (/^https?:/.test(request.url())) requests.push(request.url());
  });
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event: { violatedDirective: string; blockedURI: string }) =>
      window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  await page.goto(`${open.url}/docs`);
  await page.locator(".opblock").nth(operations.length - 1).waitFor();
  const shown = await page.$$eval(".opblock", (blocks) =>
    blocks.map((b) => `${b.querySelector(".opblock-summary-method")!.textContent!.trim()} ${b.querySelector(".opblock-summary-path")!.getAttribute("data-path")}`),
  );
  expect(shown.sort()).toEqual(operations);
  await browser.screenshot(page, "23-docs");

  // Try one: the page calls this service (connect-src 'self') and shows the answer.
  const categories = page.locator(".opblock").filter({ has: page.locator('[data-path="/api/categories"]') });
  await categories.locator(".opblock-summary").click();
  await categories.getByRole("button", { name: "Try it out" }).click();
  await categories.getByRole("button", { name: "Execute" }).click();
  await categories.locator(".live-responses-table .response-col_status").filter({ hasText: "200" }).waitFor();
  await browser.screenshot(page, "24-docs-try-it", { fullPage: false });

  expect(requests.filter((url) => new URL(url).origin !== open.url)).toEqual([]);
  const paths = [...new Set(requests.map((url) => new URL(url).pathname.replace(/-[0-9a-f]{12}\./, "-<hash>.")))].sort();
  expect(paths).toEqual(["/api/categories", "/docs", "/docs/assets/docs-<hash>.js", "/docs/assets/swagger-ui-<hash>.css", "/docs/assets/swagger-ui-bundle-<hash>.js", "/openapi.json"]);
  expect(await page.evaluate(() => window.cspViolations)).toEqual([]);
  expect(problems).toEqual([]);
  await page.close();
});

// ---------------------------------------------------------------------------------------------
// phone, keyboard, labels, network
// ---------------------------------------------------------------------------------------------

describe("usable by everyone", () => {
  test("readable on a phone-sized screen: nothing wider than the screen", async () => {
    const page = await browser.newPage({ width: 390, height: 844 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await page.goto(`${open.url}/?q=calm+sea`);
    await ready(page);
    await resultsHeading(page, /results for “calm sea”/);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await browser.screenshot(page, "21-phone-search");
    const [id] = await cardIds(page);
    for (const path of [`/images/${id}`, "/upload", "/generate"]) {
      await page.goto(`${open.url}${path}`);
      await ready(page);
      expect(await overflow(), path).toBeLessThanOrEqual(0);
    }
    await page.goto(`${open.url}/images/${id}`);
    await ready(page);
    await browser.screenshot(page, "22-phone-image-detail", { fullPage: true });
    await page.close();
  });

  test("every control has a label, every image alt text, and the keyboard reaches the search box first", async () => {
    const page = await browser.newPage();
    const generations = await apiJson<{ items: { id: string }[] }>(open, "/api/generations?limit=1");
    const [image] = (await apiSearch({ query: "sea" })).results;
    for (const path of ["/?q=sea", `/images/${image!.id}`, "/upload", "/generate", `/generations/${generations.items[0]!.id}`]) {
      await page.goto(`${open.url}${path}`);
      await ready(page);
      await page.waitForLoadState("networkidle");
      const problems = await page.evaluate(() => {
        const found: string[] = [];
        for (const el of document.querySelectorAll("input, select, textarea, button") as HTMLElement[]) {
          if ((el as HTMLInputElement).type === "hidden" || el.closest("dialog")) continue;
          const labelled =
            ((el as HTMLInputElement).labels?.length ?? 0) > 0 || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent!.trim());
          if (!labelled) found.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`);
        }
        for (const img of document.querySelectorAll("main img")) {
          if (!img.hasAttribute("alt")) found.push(`img without alt: ${img.getAttribute("src")}`);
          else if (img.getAttribute("alt") === "" && !img.classList.contains("preview")) found.push(`img with empty alt: ${img.getAttribute("src")}`);
        }
        const leaked = /\[object Object\]|\bundefined\b|\bNaN\b/.exec(document.body.innerText);
        if (leaked) found.push(`"${leaked[0]}" shown on the page`);
        return found;
      });
      expect(problems, path).toEqual([]);
    }

    await page.goto(`${open.url}/`);
    await ready(page);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Enter");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("q");
    await page.close();
  });

  test("no page reached past loopback (no CDN) and no script failed", () => {
    expect(browser.external).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});
