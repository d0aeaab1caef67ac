import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../src/config.ts";
import { needsKey } from "../src/http/auth.ts";
import { BUN_BODY_CEILING_BYTES, maxRequestBodyBytes, MULTIPART_OVERHEAD_BYTES } from "../src/http/limits.ts";

describe("the edge settings", () => {
  test("defaults: public reads, 64 KiB JSON, 600 searches and 30 generations a minute, no proxy, no Grafana", () => {
    const config = loadConfig({});
    expect(config.publicReads).toBe(true);
    expect(config.limits.maxJsonBytes).toBe(65_536);
    expect(config.rateLimits).toEqual({ searchPerMinute: 600, generatePerMinute: 30 });
    expect(config.trustedProxies).toBe(0);
    expect(config.grafanaUrl).toBeUndefined();
  });

  test("each is read from the environment; 0 turns a rate limit off", () => {
    const config = loadConfig({
      API_KEYS: "a1,b2",
      PUBLIC_READS: "false",
      MAX_JSON_BYTES: "1024",
      RATE_LIMIT_SEARCH_PER_MINUTE: "0",
      RATE_LIMIT_GENERATE_PER_MINUTE: "5",
      TRUSTED_PROXIES: "1",
      GRAFANA_URL: "https://example.grafana.net",
    });
    expect(config).toMatchObject({
      apiKeys: ["a1", "b2"],
      publicReads: false,
      limits: { maxJsonBytes: 1024 },
      rateLimits: { searchPerMinute: 0, generatePerMinute: 5 },
      trustedProxies: 1,
      grafanaUrl: "https://example.grafana.net",
    });
  });

  for (const [variable, value] of [
    ["PUBLIC_READS", "maybe"],
    ["MAX_JSON_BYTES", "64k"],
    ["RATE_LIMIT_SEARCH_PER_MINUTE", "-1"],
    ["RATE_LIMIT_GENERATE_PER_MINUTE", "lots"],
    ["GRAFANA_URL", "not a url"],
    ["API_KEYS", "good,bad key!"],
  ] as const) {
    test(`a bad ${variable} stops startup naming it`, () => {
      expect(() => loadConfig({ API_KEYS: "k1", [variable]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ API_KEYS: "k1", [variable]: value })).toThrow(new RegExp(`^${variable}: `));
    });
  }

  test("an invalid API key is never echoed in the message", () => {
    expect(() => loadConfig({ API_KEYS: "sk-live-SECRET!" })).toThrow(/^API_KEYS: (?!.*SECRET)/);
  });

  test("PUBLIC_READS=false without API_KEYS stops startup (every read would stay open)", () => {
    expect(() => loadConfig({ PUBLIC_READS: "false" })).toThrow(/^PUBLIC_READS: /);
  });

  test("Bun's body limit is a ceiling above every route's own limit (1 GiB, or the upload allowance if larger)", () => {
    expect(maxRequestBodyBytes(loadConfig({ MAX_UPLOAD_BYTES: "1000" }))).toBe(BUN_BODY_CEILING_BYTES);
    expect(maxRequestBodyBytes(loadConfig({ MAX_UPLOAD_BYTES: "1000", MAX_JSON_BYTES: "10000000" }))).toBe(BUN_BODY_CEILING_BYTES);
    expect(maxRequestBodyBytes(loadConfig({ MAX_UPLOAD_BYTES: String(BUN_BODY_CEILING_BYTES) }))).toBe(BUN_BODY_CEILING_BYTES + MULTIPART_OVERHEAD_BYTES);
  });
});

describe("needsKey, the auth matrix", () => {
  const cases: Array<[string, string, boolean, boolean]> = [
    // method, path, needs a key with PUBLIC_READS=true, with PUBLIC_READS=false
    ["GET", "/health", false, false],
    ["GET", "/health/ready", false, false],
    ["POST", "/api/images", true, true],
    ["POST", "/api/generate", true, true],
    ["DELETE", "/api/images/1", true, true],
    ["GET", "/api/search", true, true],
    ["POST", "/api/search", true, true],
    ["GET", "/api/images", false, true],
    ["HEAD", "/api/images/1/file", false, true],
    ["GET", "/api/generations/1/image", false, true],
    ["GET", "/api/searchable", false, true],
  ];
  for (const [method, path, open, closed] of cases) {
    test(`${method} ${path}`, () => {
      expect(needsKey(method, path, { publicReads: true })).toBe(open);
      expect(needsKey(method, path, { publicReads: false })).toBe(closed);
    });
  }
});
