import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { join } from "node:path";
import { DB_ATTR, GENAI_ATTR, HTTP_ATTR, PROCESS_ATTR, SPAN } from "../src/telemetry/names.ts";

// Dashboards may only query names from src/telemetry/names.ts (test/infra.test.ts); this suite
// closes the loop: every listed name is used by code outside names.ts, so a dashboard cannot
// rely on a name that nothing emits. "Used" means in code, not in a comment: each source is run
// through Bun's transpiler, which drops comments and type-only code, before it is scanned.

const transpiler = new Bun.Transpiler({ loader: "ts" });

/** The code of a TypeScript source without comments or types (string literals come out double-quoted). */
function codeOf(source: string): string {
  return transpiler.transformSync(source);
}

/** True when `code` reads `GROUP.key` or has the literal `"value"`. */
function uses(code: string, group: string, key: string, value: string): boolean {
  return new RegExp(`\\b${group}\\.${key}\\b`).test(code) || code.includes(JSON.stringify(value));
}

const root = join(import.meta.dir, "..", "src");
const files = [...new Glob("**/*.ts").scanSync({ cwd: root })].filter((f) => f !== "telemetry/names.ts");
const code = (await Promise.all(files.map(async (f) => codeOf(await Bun.file(join(root, f)).text())))).join("\n");

const groups = { SPAN, PROCESS_ATTR, HTTP_ATTR, DB_ATTR, GENAI_ATTR } as const;

describe("every listed span name and attribute is emitted by the code", () => {
  for (const [group, entries] of Object.entries(groups)) {
    for (const [key, value] of Object.entries(entries)) {
      test(`${group}.${key} (${value})`, () => {
        expect(uses(code, group, key, value)).toBe(true);
      });
    }
  }
});

describe("the usage scan", () => {
  test("does not count a name that appears only in comments", async () => {
    const source = await Bun.file(join(import.meta.dir, "fixtures", "names-in-comments.ts")).text();
    // The fixture does mention both names, so a plain text search would count them.
    expect(source).toContain("SPAN.searchTeleport");
    expect(source).toContain('"teleport.distance"');
    const fixture = codeOf(source);
    expect(uses(fixture, "SPAN", "searchTeleport", "search.teleport")).toBe(false);
    expect(uses(fixture, "HTTP_ATTR", "teleportDistance", "teleport.distance")).toBe(false);
  });

  test("counts a name read in code or written as a literal", () => {
    expect(uses(codeOf("tracedSpan(SPAN.searchTeleport, {}, go);"), "SPAN", "searchTeleport", "search.teleport")).toBe(true);
    expect(uses(codeOf("span.setAttribute('teleport.distance', 3);"), "HTTP_ATTR", "teleportDistance", "teleport.distance")).toBe(true);
    // A longer key sharing the prefix is another name.
    expect(uses(codeOf("SPAN.searchTeleportLater;"), "SPAN", "searchTeleport", "search.teleport")).toBe(false);
  });
});
