export { webRoutes, type WebDeps } from "./routes.tsx";
export { buildAssets, createAssetStore, pickEncoding, type AssetManifest, type AssetStore } from "./assets.ts";
