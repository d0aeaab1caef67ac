import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { join } from "node:path";
import { DB_ATTR, GENAI_ATTR, HTTP_ATTR, PROCESS_ATTR, SPAN } from "../src/telemetry/names.ts";

// Dashboards may only query names from src/telemetry/names.ts (test/infra.test.ts); this suite
// closes the loop: every listed name is used by code outside names.ts, so a dashboard cannot
// rely on a name that nothing emits.
const root = join(import.meta.dir, "..", "src");
const sources = [...new Glob("**/*.ts").scanSync({ cwd: root })]
  .filter((f) => f !== "telemetry/names.ts")
  .map((f) => Bun.file(join(root, f)).text());
const code = (await Promise.all(sources)).join("\n");

const groups = { SPAN, PROCESS_ATTR, HTTP_ATTR, DB_ATTR, GENAI_ATTR } as const;

describe("every listed span name and attribute is emitted by the code", () => {
  for (const [group, entries] of Object.entries(groups)) {
    for (const [key, value] of Object.entries(entries)) {
      test(`${group}.${key} (${value})`, () => {
        const used = code.includes(`${group}.${key}`) || code.includes(`"${value}"`);
        expect(used).toBe(true);
      });
    }
  }

  test("the check notices a name nothing uses", () => {
    expect(code.includes("SPAN.searchTeleport") || code.includes('"search.teleport"')).toBe(false);
  });
});
