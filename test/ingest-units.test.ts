import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import sharp from "sharp";
import { createGeminiClient, createGeminiLabeler } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { deltaE, hexToLab } from "../src/ingest/color.ts";
import { decodeImage, sniffImageType } from "../src/ingest/decode.ts";
import { embeddingText } from "../src/ingest/embed.ts";
import { IngestError } from "../src/ingest/errors.ts";
import { labelStage, normalizeLabels } from "../src/ingest/label.ts";
import { extractPalette, extractPaletteWithShares } from "../src/ingest/palette.ts";
import { assertValidKey, generatedKey, InvalidKeyError, originalKey, refPrefix, slugifyCategory, thumbnailKey } from "../src/storage/index.ts";
import { createTestTelemetry, SPAN } from "../src/telemetry/index.ts";
import { startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";
import { bands, bombPng, jpegWithLocation, scene, truncate } from "./ingest-fixtures.ts";

setDefaultTimeout(30_000);

const LIMITS = { maxUploadBytes: 5 * 1024 * 1024, maxImagePixels: 40_000_000 };
const near = (a: string, b: string) => deltaE(hexToLab(a)!, hexToLab(b)!);

describe("palette", () => {
  test("60% red, 30% blue, 10% white: red first, then blue, then white, each within ΔE 3", async () => {
    for (const format of ["png", "jpeg"] as const) {
      const colors = await extractPaletteWithShares(await bands([{ hex: "#d7263d", share: 0.6 }, { hex: "#1b4fd8", share: 0.3 }, { hex: "#ffffff", share: 0.1 }], format));
      expect(colors.map((c) => c.hex).length).toBe(3);
      expect(near(colors[0]!.hex, "#d7263d")).toBeLessThan(3);
      expect(near(colors[1]!.hex, "#1b4fd8")).toBeLessThan(3);
      expect(near(colors[2]!.hex, "#ffffff")).toBeLessThan(3);
      expect(colors[0]!.share).toBeCloseTo(0.6, 1);
      expect(colors[1]!.share).toBeCloseTo(0.3, 1);
    }
  });

  test("at most five colours, most dominant first, from an image with eight", async () => {
    const eight = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6"];
    const shares = [0.3, 0.2, 0.14, 0.11, 0.09, 0.07, 0.05, 0.04];
    const colors = await extractPaletteWithShares(await bands(eight.map((hex, i) => ({ hex, share: shares[i]! })), "png", 800, 100));
    expect(colors.length).toBe(5);
    for (let i = 1; i < colors.length; i++) expect(colors[i]!.share).toBeLessThanOrEqual(colors[i - 1]!.share);
    expect(near(colors[0]!.hex, "#e6194b")).toBeLessThan(3);
    expect(near(colors[1]!.hex, "#3cb44b")).toBeLessThan(3);
  });

  test("near-identical shades merge into one colour", async () => {
    const colors = await extractPalette(await bands([{ hex: "#ff0000", share: 0.5 }, { hex: "#f80808", share: 0.3 }, { hex: "#0000ff", share: 0.2 }]));
    expect(colors.length).toBe(2);
    expect(near(colors[0]!, "#fc0404")).toBeLessThan(4);
  });

  test("fully transparent pixels are ignored; an image with none opaque has no palette", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="60" height="100" fill="#2a9d8f"/></svg>`;
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    const colors = await extractPaletteWithShares(png);
    expect(colors.length).toBe(1);
    expect(near(colors[0]!.hex, "#2a9d8f")).toBeLessThan(3);
    const clear = await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    expect(await extractPalette(clear)).toEqual([]);
  });

  test("the same image always gives the same palette", async () => {
    const photo = await scene(77, "jpeg", 800, 600);
    const first = await extractPalette(photo);
    expect(first.length).toBeGreaterThan(1);
    expect(await extractPalette(photo)).toEqual(first);
    expect(await extractPalette(sharp(photo))).toEqual(first);
  });
});

describe("decode", () => {
  test("formats are sniffed from magic bytes", async () => {
    for (const format of ["jpeg", "png", "webp", "avif", "gif"] as const) expect(sniffImageType(await scene(1, format, 40, 30))).toBe(`image/${format}`);
    const heic = new Uint8Array([0, 0, 0, 24, ...new TextEncoder().encode("ftypheic"), 0, 0, 0, 0, ...new TextEncoder().encode("mif1heic")]);
    expect(sniffImageType(heic)).toBeUndefined();
    expect(sniffImageType(new TextEncoder().encode("<svg xmlns"))).toBeUndefined();
    expect(sniffImageType(new Uint8Array([0xff, 0xd8]))).toBeUndefined();
  });

  test("a header claiming billions of pixels is refused without decoding them", async () => {
    const started = performance.now();
    const error = await decodeImage(LIMITS, bombPng(100_000, 100_000)).catch((e) => e);
    expect(error).toBeInstanceOf(IngestError);
    expect(error.code).toBe("too_many_pixels");
    expect(error.status).toBe(422);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test("a truncated image is refused; a clean image is stored byte for byte", async () => {
    const png = await scene(5, "png", 640, 480);
    await expect(decodeImage(LIMITS, truncate(png))).rejects.toMatchObject({ code: "invalid_image" });
    const decoded = await decodeImage(LIMITS, png);
    expect(decoded.reencoded).toBe(false);
    expect(decoded.original).toBe(png);
    expect([decoded.width, decoded.height]).toEqual([640, 480]);
    const thumb = await sharp(decoded.thumbnail).metadata();
    expect([thumb.format, thumb.width, thumb.height]).toEqual(["webp", 512, 384]);
  });

  test("EXIF is stripped and orientation applied, the colour profile kept", async () => {
    const withIcc = await sharp(await jpegWithLocation()).withIccProfile("p3").withExifMerge({ IFD0: { Make: "TestCam" } }).jpeg().toBuffer();
    const decoded = await decodeImage(LIMITS, new Uint8Array(withIcc));
    expect(decoded.reencoded).toBe(true);
    const meta = await sharp(decoded.original).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.icc).toBeDefined();
    expect(decoded.mimeType).toBe("image/jpeg");
  });

  test("over the size limit and empty are refused before decoding", async () => {
    await expect(decodeImage({ ...LIMITS, maxUploadBytes: 100 }, await scene(6, "png"))).rejects.toMatchObject({ code: "payload_too_large", status: 413 });
    await expect(decodeImage(LIMITS, new Uint8Array())).rejects.toMatchObject({ code: "empty_file", status: 400 });
  });
});

describe("storage keys", () => {
  const id = "0190f5c2-7a1b-7cde-8f00-123456789abc";
  test("the role picks the pool and the category is a slug", () => {
    expect(originalKey({ id, mimeType: "image/jpeg", role: "corpus", category: "Ignored Here" })).toBe(`uploads/${id}.jpg`);
    expect(originalKey({ id, mimeType: "image/png", role: "tone-ref", category: "Natural Light" })).toBe(`refs/tone/natural-light/${id}.png`);
    expect(originalKey({ id, mimeType: "image/avif", role: "angle-ref" })).toBe(`refs/angle/uncategorized/${id}.avif`);
    expect(thumbnailKey(id)).toBe(`thumbnails/${id}.webp`);
    expect(generatedKey(id)).toBe(`generated/${id}.png`);
    expect(refPrefix("tone-ref", "Café Crème")).toBe("refs/tone/cafe-creme/");
    expect(slugifyCategory("../../etc")).toBe("etc");
    expect(slugifyCategory("!!!")).toBeUndefined();
  });

  test("anything but a service-made uuid is refused", () => {
    expect(() => originalKey({ id: "../../x", mimeType: "image/jpeg", role: "corpus" })).toThrow(InvalidKeyError);
    expect(() => thumbnailKey("holiday.jpg")).toThrow(InvalidKeyError);
    for (const bad of ["a/../b", "/a", "a/", "a//b", "A/b", "a\\b", "a/.b", "a/b c"]) expect(() => assertValidKey(bad)).toThrow(InvalidKeyError);
    assertValidKey(`refs/tone/natural/${id}.jpg`);
  });
});

describe("labels and embedding text", () => {
  let gemini: FakeGemini;
  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: "test-key" });
  });
  afterAll(() => gemini.stop());

  const config = () => loadConfig({ GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: gemini.url, LOG_LEVEL: "silent" });
  const image = async () => ({ bytes: new Uint8Array(await sharp(await scene(3, "png", 64, 48)).webp().toBuffer()), mimeType: "image/webp" });

  test("with no caption or labels given, the Gemini labeler describes the image under a JSON schema", async () => {
    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { textJson: () => ({ caption: "A teal circle on a warm field", labels: ["Circle", "teal", "circle"], category: "Abstract Art" }) });
    const { telemetry, recorder } = createTestTelemetry();
    const labeler = createGeminiLabeler(createGeminiClient(config().gemini), "gemini-2.5-flash");
    const text = await labelStage({ telemetry, labeler, timeoutMs: 4_000 }, {}, await image());
    expect(text).toEqual({ caption: "A teal circle on a warm field", labels: ["circle", "teal"], category: "abstract-art", source: "model" });
    const request = gemini.requests.at(-1)!;
    expect(request.action).toBe("generateContent");
    expect(request.body?.generationConfig?.responseMimeType).toBe("application/json");
    expect(JSON.stringify(request.body)).toContain('"mimeType":"image/webp"');
    expect(recorder.byName(SPAN.ingestLabel).at(-1)!.attributes["ingest.label.source"]).toBe("model");
  });

  test("what the request gives wins: the labeler is not asked; a given category survives model labels", async () => {
    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { textJson: () => ({ caption: "model caption", labels: ["model"], category: "model" }) });
    const { telemetry } = createTestTelemetry();
    const labeler = createGeminiLabeler(createGeminiClient(config().gemini), "gemini-2.5-flash");
    const given = await labelStage({ telemetry, labeler, timeoutMs: 4_000 }, { caption: " mine ", labels: ["A", "b"] }, await image());
    expect(given).toEqual({ caption: "mine", labels: ["a", "b"], category: null, source: "request" });
    expect(gemini.requests.length).toBe(0);
    const mixed = await labelStage({ telemetry, labeler, timeoutMs: 4_000 }, { category: "Food" }, await image());
    expect(mixed).toMatchObject({ caption: "model caption", category: "food", source: "model" });
  });

  test("a failing or slow labeler never fails the upload: the image keeps what the request gave", async () => {
    const { telemetry } = createTestTelemetry();
    const labeler = createGeminiLabeler(createGeminiClient(config().gemini), "gemini-2.5-flash");
    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { status: 500, message: "boom" });
    expect(await labelStage({ telemetry, labeler, timeoutMs: 2_000 }, { category: "food" }, await image())).toEqual({ caption: null, labels: [], category: "food", source: "model_failed" });
    gemini.setScenario("gemini-2.5-flash", { delayMs: 5_000, then: "text-json" });
    const started = performance.now();
    const slow = await labelStage({ telemetry, labeler, timeoutMs: 300 }, {}, await image());
    expect(slow.source).toBe("model_failed");
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  test("labels are trimmed, lower-cased, de-duplicated and bounded; the embedding text joins what there is", () => {
    expect(normalizeLabels([" Sea", "sea", "", "Beach  Day", "x".repeat(65)])).toEqual(["sea", "beach day"]);
    expect(normalizeLabels(Array.from({ length: 50 }, (_, i) => `l${i}`)).length).toBe(32);
    expect(embeddingText({ caption: "A quiet harbour", labels: ["boat", "sea"], category: "street-food" })).toBe("A quiet harbour. boat, sea. street food");
    expect(embeddingText({ caption: null, labels: [], category: null })).toBe("");
  });
});
