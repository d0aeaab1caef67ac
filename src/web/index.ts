export { webRoutes, type WebDeps } from "./routes.tsx";
export { buildAssets, createAssetStore, type AssetManifest, type AssetStore } from "./assets.ts";
