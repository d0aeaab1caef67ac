/**
 * What the browser tests run against: the service as a real process (`bun run src/server.ts`),
 * the demo corpus seeded through `bun run seed`, and Debian's Chromium driven by
 * `playwright-core`, cut off from everything but loopback so a page that reached for a CDN fails.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

const ROOT = join(import.meta.dir, "..", "..");

/** The system browser; `CHROMIUM_PATH` points elsewhere. `.ci/run` installs Debian's `chromium`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Where screenshots go (ignored by git; a person looks at them after a run). */
export const SCREENSHOT_DIR = join(ROOT, "test-results", "web");

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A service process started by {@link startServiceProcess}. */
export interface ServiceProcess {
  url: string;
  dataDir: string;
  /** Everything it logged so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `bun run src/server.ts` on an ephemeral port with an in-memory database and a fresh data
 * directory, and waits for its "listening" line.
 *
 * @example
 * const service = await startServiceProcess({ API_KEYS: "k1" });
 * await fetch(`${service.url}/health`);
 * await service.stop();
 */
export async function startServiceProcess(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "web-test-"));
  const proc = Bun.spawn([process.execPath, "run", "src/server.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: "memory://",
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const stop = async () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(15_000).then(() => false)]);
    if (!exited) proc.kill("SIGKILL");
    await pumped;
    rmSync(dataDir, { recursive: true, force: true });
  };
  // Generous: PGlite starts slowly on a loaded machine.
  const deadline = performance.now() + 90_000;
  while (performance.now() < deadline) {
    const line = text.split("\n").find((l) => l.includes('"msg":"listening"'));
    if (line) return { url: (JSON.parse(line) as { url: string }).url, dataDir, output: () => text, stop };
    if (proc.exitCode !== null) break;
    await Bun.sleep(25);
  }
  await stop();
  throw new Error(`the service did not start:\n${text}`);
}

/**
 * Runs `bun run seed --url <service>` (the demo corpus, 69 images) and fails on a non-zero exit.
 *
 * @example
 * await seedDemoCorpus(service.url);
 */
export async function seedDemoCorpus(url: string, env: Record<string, string> = {}): Promise<void> {
  const proc = Bun.spawn([process.execPath, "run", "src/cli/seed.ts", "--url", url], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`seed exited ${code}:\n${out}\n${err}`);
}

/** A headless Chromium with one context; requests off loopback are refused and listed. */
export interface TestBrowser {
  context: BrowserContext;
  /** URLs the pages tried to reach off loopback (each was refused). */
  external: string[];
  /** Errors thrown in pages and `console.error` lines. */
  pageErrors: string[];
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  /** Writes `test-results/web/<name>.png` and returns its path. */
  screenshot(page: Page, name: string, options?: { fullPage?: boolean }): Promise<string>;
  close(): Promise<void>;
}

const isLoopback = (url: URL) => url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";

/**
 * Launches the system Chromium headless with a fresh profile. Throws (with what to install) when
 * it cannot start: browser tests fail rather than skip.
 *
 * @example
 * const browser = await launchBrowser();
 * const page = await browser.newPage();
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "web-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 900 },
      locale: "en-GB",
      timezoneId: "UTC",
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(
      `Chromium did not start from ${CHROMIUM_PATH} (install it: apt-get install -y chromium, or set CHROMIUM_PATH): ${(error as Error).message}`,
    );
  }
  const external: string[] = [];
  const pageErrors: string[] = [];
  await context.route(
    (url) => url.protocol.startsWith("http") && !isLoopback(url),
    (route) => {
      external.push(route.request().url());
      return route.abort("blockedbyclient");
    },
  );
  context.on("page", (page) => {
    page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
    page.on("console", (message) => {
      // A refused request (401/4xx) is logged by Chromium itself; the page shows it in words.
      if (message.type() === "error" && !/Failed to load resource/.test(message.text())) pageErrors.push(`${page.url()}: ${message.text()}`);
    });
  });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    external,
    pageErrors,
    async newPage(options) {
      const page = await context.newPage();
      if (options) await page.setViewportSize({ width: options.width ?? 1280, height: options.height ?? 900 });
      return page;
    },
    async screenshot(page, name, options) {
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: options?.fullPage ?? false });
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
