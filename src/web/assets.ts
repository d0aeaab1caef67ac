/**
 * The web app's static assets: the client bundle and stylesheet, built by `Bun.build` from
 * `src/web/client/` on first use (a fresh clone needs no build step), then named, compressed and
 * served from memory by the service's one asset server (`src/http/assets.ts`).
 */
import type { Context } from "hono";
import { loadOnce, memoryAsset, serveNamed, type Asset } from "../http/assets.ts";

/** Where the browser code lives; `main.tsx` imports everything else. */
const CLIENT_DIR = `${import.meta.dir}/client`;
const ENTRYPOINTS = [`${CLIENT_DIR}/main.tsx`, `${CLIENT_DIR}/styles.css`];

/** The hashed URLs a page links to, every file by name, and what went into the bundle. */
export interface AssetManifest {
  script: string;
  stylesheet: string;
  files: Map<string, Asset>;
  /** Each source file in the script and the bytes it adds to it (minified), by path as Bun reports it (from the working directory). */
  inputs: Map<string, number>;
}

/** Builds the assets once and serves them. */
export interface AssetStore {
  /** Builds on the first call; later calls share the same build. */
  manifest(): Promise<AssetManifest>;
  /** `GET /assets/:name` */
  serve(c: Context): Promise<Response>;
}

/**
 * Bundles and minifies the client code and stylesheet, then compresses each file in both encodings.
 *
 * @example
 * const { script, stylesheet } = await buildAssets(); // "/assets/main-3f2a9c1b7d4e.js", "/assets/styles-….css"
 */
export async function buildAssets(): Promise<AssetManifest> {
  const result = await Bun.build({
    entrypoints: ENTRYPOINTS,
    target: "browser",
    format: "esm",
    minify: true,
    sourcemap: "none",
    metafile: true,
    // JSX settings (hono/jsx/dom) from the client's tsconfig; the production runtime, not the dev one.
    tsconfig: `${CLIENT_DIR}/tsconfig.json`,
    jsx: { development: false },
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!result.success) {
    throw new AggregateError(result.logs, `web client build failed: ${result.logs.map((l) => l.message).join("; ")}`);
  }
  const files = new Map<string, Asset>();
  let script = "";
  let stylesheet = "";
  for (const output of result.outputs) {
    const base = output.path.replace(/^.*\//, "");
    const css = base.endsWith(".css");
    const asset = memoryAsset(base, css ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8", new Uint8Array(await output.arrayBuffer()));
    files.set(asset.name, asset);
    if (css) stylesheet = `/assets/${asset.name}`;
    else if (output.kind === "entry-point") script = `/assets/${asset.name}`;
  }
  if (!script || !stylesheet) throw new Error(`web client build produced no ${script ? "stylesheet" : "script"}`);
  const inputs = new Map<string, number>();
  for (const out of Object.values(result.metafile?.outputs ?? {})) {
    for (const [path, input] of Object.entries(out.inputs)) if (!path.endsWith(".css")) inputs.set(path, input.bytesInOutput);
  }
  return { script, stylesheet, files, inputs };
}

/**
 * An asset store that builds on first use; a failed build is retried on the next request.
 *
 * @example
 * const assets = createAssetStore();
 * app.get("/assets/:name", (c) => assets.serve(c));
 */
export function createAssetStore(build: () => Promise<AssetManifest> = buildAssets): AssetStore {
  const manifest = loadOnce(build);
  return {
    manifest,
    async serve(c) {
      return serveNamed(c, (await manifest()).files);
    },
  };
}
