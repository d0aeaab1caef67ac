/**
 * The files that run beside the service: the Grafana dashboard and TraceQL cookbook (every span
 * name and attribute they query must be one the service emits, per src/telemetry/names.ts), the
 * Dockerfile, the Alloy configuration, the systemd units and the local compose stack.
 *
 * Nothing here can run Docker, systemd or Alloy (none is on a developer's machine or CI), so
 * each file is parsed and held to the contract the others rely on.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  ALL_ATTRIBUTES,
  ALL_SPAN_NAMES,
  GENERATION_STAGES,
  INGEST_STAGES,
  SEARCH_STAGES,
} from "../src/telemetry/names.ts";

const ROOT = resolve(import.meta.dir, "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

// ---------------------------------------------------------------------------------------------
// TraceQL: names and attributes
// ---------------------------------------------------------------------------------------------

/** Resource attributes the service sets (service.name, and DEPLOYMENT_ENV's attribute). */
const RESOURCE_ATTRIBUTES = ["service.name", "deployment.environment.name"];
/** TraceQL's pipeline functions, from Tempo's TraceQL and TraceQL-metrics references. */
const TRACEQL_FUNCTIONS = new Set([
  "rate",
  "count_over_time",
  "sum_over_time",
  "min_over_time",
  "max_over_time",
  "avg_over_time",
  "quantile_over_time",
  "histogram_over_time",
  "compare",
  "select",
  "by",
  "topk",
  "bottomk",
  "count",
  "avg",
  "min",
  "max",
  "sum",
]);
const KINDS = new Set(["server", "client", "internal", "producer", "consumer", "unspecified"]);
const STATUSES = new Set(["error", "ok", "unset"]);
const METRICS_FUNCTION = /\|\s*(rate|count_over_time|sum_over_time|min_over_time|max_over_time|avg_over_time|quantile_over_time|histogram_over_time|compare)\s*\(/;

const STRING_LITERAL = /"((?:[^"\\]|\\.)*)"/g;

/** A TraceQL string literal's value: only `\"` and `\\` are escapes in TraceQL. */
function unquoteTraceQL(body: string): string {
  return body.replace(/\\(["\\])/g, "$1");
}

/**
 * Span names and span/resource attributes a TraceQL text refers to that the service does not
 * emit. `name = "x"` must be a listed span name; `name =~ "re"` must match at least one (TraceQL
 * regexes are fully anchored); `span.x` must be a listed attribute. Works on whole Markdown
 * pages too: prose that says `span.x` is held to the same list.
 */
function unknownNames(
  text: string,
  spanNames: readonly string[] = ALL_SPAN_NAMES,
  attributes: readonly string[] = ALL_ATTRIBUTES,
): string[] {
  const problems: string[] = [];
  const nameComparison = /(?<![\w.:])(?:span:)?name\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g;
  for (const [, op, body] of text.matchAll(nameComparison)) {
    const value = unquoteTraceQL(body!);
    if (op === "=" || op === "!=") {
      if (!spanNames.includes(value)) problems.push(`span name "${value}"`);
      continue;
    }
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`);
    } catch {
      problems.push(`span name regex "${value}" (does not compile)`);
      continue;
    }
    if (!spanNames.some((n) => re.test(n))) problems.push(`span name regex "${value}" (matches no listed span name)`);
  }
  for (const [, attr] of text.matchAll(/(?<![\w.])span\.([A-Za-z_][\w.]*)/g)) {
    const key = attr!.replace(/\.+$/, "");
    if (!attributes.includes(key)) problems.push(`attribute span.${key}`);
  }
  for (const [, attr] of text.matchAll(/(?<![\w.])resource\.([A-Za-z_][\w.]*)/g)) {
    const key = attr!.replace(/\.+$/, "");
    if (!RESOURCE_ATTRIBUTES.includes(key)) problems.push(`attribute resource.${key}`);
  }
  return problems;
}

/** Everything wrong with one TraceQL query: unknown names (above), and its shape. */
function queryProblems(query: string): string[] {
  const problems = unknownNames(query);
  const code = query.replace(STRING_LITERAL, '""');
  const depth = { "{": 0, "(": 0 };
  for (const ch of code) {
    if (ch === "{" || ch === "(") depth[ch]++;
    if (ch === "}") depth["{"]--;
    if (ch === ")") depth["("]--;
    if (depth["{"] < 0 || depth["("] < 0) break;
  }
  if (depth["{"] !== 0 || depth["("] !== 0) problems.push("unbalanced braces or parentheses");
  if ((query.replace(/\\./g, "").match(/"/g)?.length ?? 0) % 2 !== 0) problems.push("unterminated string");
  if (!/^\s*\{/.test(query)) problems.push("does not start with a span selector");
  for (const [, fn] of code.matchAll(/(?<![\w.])([a-z_]+)\s*\(/g)) {
    if (!TRACEQL_FUNCTIONS.has(fn!)) problems.push(`unknown function ${fn}()`);
  }
  for (const [, attr] of code.matchAll(/(?<![\w.\\)\]"])\.([A-Za-z_][\w.]*)/g)) {
    problems.push(`unscoped attribute .${attr} (use span. so the name check applies)`);
  }
  for (const [, value] of code.matchAll(/(?<![\w.:])kind\s*!?=\s*(\w+)/g)) {
    if (!KINDS.has(value!)) problems.push(`kind = ${value}`);
  }
  for (const [, value] of code.matchAll(/(?<![\w.:])status\s*!?=\s*(\w+)/g)) {
    if (!STATUSES.has(value!)) problems.push(`status = ${value}`);
  }
  return problems;
}

/** The ```traceql fenced blocks of a Markdown page. */
function traceqlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```traceql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: { refId?: string; datasource?: { type?: string; uid?: string }; queryType?: string; query?: string }[];
}

const dashboard = JSON.parse(read("infra/grafana/dashboard.json")) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
};
const queryPanels = dashboard.panels.filter((p) => p.type !== "row");
const dashboardQueries = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.query ?? ""));
const cookbook = read("infra/grafana/TRACEQL.md");
const cookbookQueries = traceqlBlocks(cookbook);

describe("TraceQL name check", () => {
  test("reports span names, regexes and attributes the service does not emit", () => {
    const sample = [
      `{name="search.bogus"} | rate()`,
      `{name=~"nothing\\\\..*"} | quantile_over_time(duration, .95) by (name)`,
      `{kind=server && span.http.bogus = 1} | select(span.not_listed.attr)`,
      `{resource.k8s.pod.name = "x"}`,
    ].join("\n");
    expect(unknownNames(sample)).toEqual([
      `span name "search.bogus"`,
      `span name regex "nothing\\..*" (matches no listed span name)`,
      "attribute span.http.bogus",
      "attribute span.not_listed.attr",
      "attribute resource.k8s.pod.name",
    ]);
  });

  test("reports shape mistakes: unknown functions, unscoped attributes, bad intrinsics", () => {
    expect(queryProblems(`{kind=sever && .http.route = "/x"} | frobnicate()`)).toEqual([
      "unknown function frobnicate()",
      "unscoped attribute .http.route (use span. so the name check applies)",
      "kind = sever",
    ]);
    expect(queryProblems(`{status=failed`)).toContain("unbalanced braces or parentheses");
    expect(queryProblems(`{status=failed}`)).toEqual(["status = failed"]);
  });

  test("accepts every listed span name and attribute", () => {
    for (const name of ALL_SPAN_NAMES) expect(queryProblems(`{name="${name}"} | rate()`)).toEqual([]);
    for (const attr of ALL_ATTRIBUTES) expect(queryProblems(`{span.${attr} != nil} | select(span.${attr})`)).toEqual([]);
    expect(queryProblems(`{name=~"search\\\\..*"} | quantile_over_time(duration, .95) by (name)`)).toEqual([]);
  });
});

describe("infra/grafana/dashboard.json", () => {
  test("uses a Tempo data source variable and gives every panel a Tempo query", () => {
    const variable = dashboard.templating.list.find((v) => v.name === "datasource");
    expect(variable).toMatchObject({ type: "datasource", query: "tempo" });
    expect(queryPanels.length).toBeGreaterThan(0);
    for (const panel of queryPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: "tempo", uid: "${datasource}" });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource, panel.title).toEqual({ type: "tempo", uid: "${datasource}" });
        expect(target.queryType, panel.title).toBe("traceql");
        expect(target.query?.trim().length, panel.title).toBeGreaterThan(0);
      }
    }
  });

  test("every query names only listed spans and attributes and is well formed", () => {
    const problems = queryPanels.flatMap((p) =>
      (p.targets ?? []).flatMap((t) => queryProblems(t.query ?? "").map((e) => `${p.title}: ${e}`)),
    );
    expect(problems).toEqual([]);
  });

  test("graphs run metrics queries and tables list traces", () => {
    for (const panel of queryPanels) {
      const query = panel.targets![0]!.query!;
      if (panel.type === "table") expect(query, panel.title).not.toMatch(METRICS_FUNCTION);
      else expect(query, panel.title).toMatch(METRICS_FUNCTION);
    }
  });

  test("panels have unique ids and do not overlap on the 24-column grid", () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const boxes = dashboard.panels.map((p) => ({ title: p.title, ...p.gridPos }));
    for (const b of boxes) expect(b.x + b.w, b.title).toBeLessThanOrEqual(24);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i]!, boxes[j]!];
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${a.title} / ${b.title}`).toBe(false);
      }
    }
  });

  test("shows rate, errors and p95 by route, every stage's p95, CPU, memory, slow and failed traces", () => {
    const has = (re: RegExp) => dashboardQueries.some((q) => re.test(q));
    expect(has(/^\{kind=server\} \| rate\(\) by \(span\.http\.route\)$/)).toBe(true);
    expect(has(/^\{kind=server && status=error\} \| rate\(\) by \(span\.http\.route\)$/)).toBe(true);
    expect(has(/^\{kind=server\} \| quantile_over_time\(duration, \.95\) by \(span\.http\.route\)$/)).toBe(true);
    expect(has(/avg_over_time\(span\.process\.cpu_user_ms\) by \(name\)/)).toBe(true);
    expect(has(/\(span\.process\.memory_delta_kb\) by \(name\)/)).toBe(true);
    const tables = queryPanels.filter((p) => p.type === "table").map((p) => p.targets![0]!.query!);
    expect(tables.some((q) => /duration > \d/.test(q) && /select\(span\.http\.route/.test(q))).toBe(true);
    expect(tables.some((q) => /status=error/.test(q))).toBe(true);

    // Each pipeline stage is covered by a p95 panel (through its name regex).
    const p95Regexes = dashboardQueries
      .filter((q) => q.includes("quantile_over_time(duration, .95) by (name)"))
      .flatMap((q) => [...q.matchAll(/name=~"((?:[^"\\]|\\.)*)"/g)].map((m) => new RegExp(`^(?:${unquoteTraceQL(m[1]!)})$`)));
    for (const stage of [...SEARCH_STAGES, ...GENERATION_STAGES, ...INGEST_STAGES]) {
      expect(p95Regexes.some((re) => re.test(stage)), stage).toBe(true);
    }
  });
});

describe("infra/grafana/TRACEQL.md", () => {
  test("names only listed spans and attributes, anywhere on the page", () => {
    expect(unknownNames(cookbook)).toEqual([]);
  });

  test("every TraceQL block is well formed", () => {
    expect(cookbookQueries.length).toBeGreaterThan(20);
    const problems = cookbookQueries.flatMap((q) => queryProblems(q).map((e) => `${q}: ${e}`));
    expect(problems).toEqual([]);
  });

  test("covers the questions an engineer asks when search or generation is slow or failing", () => {
    const has = (re: RegExp) => cookbookQueries.some((q) => re.test(q));
    expect(has(/name =~ "search\\\\\.\.\*" \} \| quantile_over_time/)).toBe(true); // slow search by stage
    expect(has(/name = "search\.vector" && duration >/)).toBe(true); // vector stage slow
    expect(has(/name = "generation\.gemini_api" && status = error \} \| rate\(\) by \(span\.error\.type\)/)).toBe(true);
    expect(has(/span\.error\.type =~ ".*safety/)).toBe(true); // safety blocks
    expect(has(/429/)).toBe(true); // rate limiting
    expect(has(/span\.db\.system\.name = "postgresql" && duration >/)).toBe(true); // slow queries
    expect(has(/span\.http\.route = "\/api\/search"/)).toBe(true); // one route
    expect(has(/trace:id = "[0-9a-f]{32}"/)).toBe(true); // a trace by id
    expect(has(/span\.process\.memory_delta_kb/)).toBe(true); // memory-heavy stages
    expect(cookbook).toContain("traceresponse");
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, with line continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line) && current === "") continue;
    if (/^\s*#/.test(line)) continue; // comment inside a continuation
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " ";
      continue;
    }
    current += line;
    if (current.trim()) logical.push(current.trim());
    current = "";
  }
  return logical.map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op!.toUpperCase(), args: rest.join(" ") };
  });
}

/** Instructions grouped by build stage; `name` is the `AS` name. */
function stages(instructions: Instruction[]) {
  const out: { image: string; name?: string; body: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.op === "FROM") {
      const m = ins.args.match(/^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i);
      out.push({ image: m![1]!, name: m![2], body: [] });
    } else out.at(-1)?.body.push(ins);
  }
  return out;
}

/** A COPY's sources and flags (`--from=stage`, `--chown=...`). */
function copyParts(args: string) {
  const words = args.startsWith("[") ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith("--"));
  const paths = words.filter((w) => !w.startsWith("--"));
  const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

describe("Dockerfile", () => {
  const pkg = JSON.parse(read("package.json")) as { engines: { bun: string }; scripts: { start: string } };
  const instructions = parseDockerfile(read("Dockerfile"));
  const built = stages(instructions);
  const final = built.at(-1)!;
  const stageNames = new Set(built.map((s) => s.name).filter(Boolean));
  const dockerignore = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

  test("builds on the official Bun image pinned to the project's Bun version", () => {
    const images = built.map((s) => s.image).filter((image) => !stageNames.has(image));
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) {
      expect(image).toBe(`oven/bun:${pkg.engines.bun}`);
    }
    expect(pkg.engines.bun).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test("installs from the lockfile, and the final stage carries production dependencies only", () => {
    const installs = instructions.filter((i) => i.op === "RUN" && /\bbun install\b/.test(i.args));
    expect(installs.length).toBeGreaterThanOrEqual(2);
    for (const i of installs) expect(i.args).toContain("--frozen-lockfile");
    expect(installs.some((i) => !i.args.includes("--production"))).toBe(true); // the full install

    const ownInstall = final.body.find((i) => i.op === "RUN" && /\bbun install\b/.test(i.args));
    const copiedModules = final.body
      .filter((i) => i.op === "COPY")
      .map((i) => copyParts(i.args))
      .find((c) => c.from && c.sources.some((s) => s.includes("node_modules")));
    if (ownInstall) expect(ownInstall.args).toContain("--production");
    else {
      expect(copiedModules).toBeDefined();
      const source = built.find((s) => s.name === copiedModules!.from)!;
      const sourceInstall = source.body.find((i) => i.op === "RUN" && /\bbun install\b/.test(i.args));
      expect(sourceInstall?.args).toContain("--frozen-lockfile --production");
    }
  });

  test("copies only files that exist and that .dockerignore lets through", () => {
    const copies = instructions.filter((i) => i.op === "COPY" || i.op === "ADD").map((i) => copyParts(i.args));
    const fromContext = copies.filter((c) => !c.from).flatMap((c) => c.sources);
    expect(fromContext).toEqual(expect.arrayContaining(["package.json", "bun.lock", "bunfig.toml", "tsconfig.json", "src"]));
    for (const source of fromContext) {
      const top = source.replace(/\/$/, "").split("/")[0]!;
      if (top === "drizzle" && !existsSync(join(ROOT, "drizzle"))) continue; // migrations not generated yet
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(dockerignore, source).not.toContain(top);
    }
    for (const c of copies.filter((c) => c.from)) expect(stageNames.has(c.from!), c.from).toBe(true);
  });

  test("runs as a non-root user with DATA_DIR=/data on a volume", () => {
    const user = final.body.findLast((i) => i.op === "USER")?.args;
    expect(user).toBeDefined();
    expect(["root", "0", "root:root", "0:0"]).not.toContain(user!);
    const env = final.body.filter((i) => i.op === "ENV").map((i) => i.args).join(" ");
    expect(env).toMatch(/\bDATA_DIR=\/data\b/);
    const volume = final.body.find((i) => i.op === "VOLUME")?.args ?? "";
    const volumes = volume.startsWith("[") ? (JSON.parse(volume) as string[]) : volume.split(/\s+/);
    expect(volumes).toContain("/data");
    expect(final.body.find((i) => i.op === "EXPOSE")?.args).toBe("3000");
  });

  test("checks /health with Bun on $PORT and stops with SIGTERM", () => {
    const healthcheck = final.body.find((i) => i.op === "HEALTHCHECK")?.args ?? "";
    expect(healthcheck).toMatch(/CMD bun -e /);
    expect(healthcheck).toContain("http://127.0.0.1:${PORT:-3000}/health");
    expect(healthcheck).toContain("process.exit(r.ok?0:1)");
    expect(final.body.find((i) => i.op === "STOPSIGNAL")?.args).toBe("SIGTERM");
  });

  test("starts the same script as `bun run start`, and that script exists", () => {
    const cmd = JSON.parse(final.body.findLast((i) => i.op === "CMD")!.args) as string[];
    expect(cmd.slice(0, 2)).toEqual(["bun", "run"]);
    expect(`bun run ${cmd[2]}`).toBe(pkg.scripts.start);
    expect(existsSync(join(ROOT, cmd[2]!)), `${cmd[2]} exists`).toBe(true);
  });

  test("build-time `bun -e` steps (here and in the EC2 guide) call functions the code exports", () => {
    const calls = [read("Dockerfile"), read("infra/ec2/README.md")].flatMap((text) => [
      ...text.matchAll(/import\('\.\/(src\/[\w/.-]+\.ts)'\)\)\.(\w+)\(/g),
    ]);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const [, file, fn] of calls) {
      expect(existsSync(join(ROOT, file!)), file).toBe(true);
      expect(read(file!), `${file} exports ${fn}`).toMatch(new RegExp(`export (async )?function ${fn}\\b`));
    }
  });

  test(".dockerignore keeps dependencies, data and the rest out of the build context", () => {
    for (const entry of ["node_modules", "data", ".git", "test", "bench", "infra", "*.log"]) {
      expect(dockerignore).toContain(entry);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Alloy configuration
// ---------------------------------------------------------------------------------------------

type Token = { kind: "ident" | "string" | "number" | "punct" | "newline"; value: string; line: number };

/** Tokens of the Alloy configuration syntax: identifiers, strings, numbers, punctuation. */
function tokenizeAlloy(src: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === "\n") {
      tokens.push({ kind: "newline", value: "\n", line });
      line++;
      i++;
    } else if (/\s/.test(ch)) i++;
    else if (src.startsWith("//", i)) while (i < src.length && src[i] !== "\n") i++;
    else if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) throw new Error(`line ${line}: unterminated comment`);
      line += src.slice(i, end).split("\n").length - 1;
      i = end + 2;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === "\\") j++;
        if (src[j] === "\n") throw new Error(`line ${line}: newline in string`);
        j++;
      }
      if (j >= src.length) throw new Error(`line ${line}: unterminated string`);
      tokens.push({ kind: "string", value: JSON.parse(src.slice(i, j + 1)) as string, line });
      i = j + 1;
    } else if (ch === "`") {
      const end = src.indexOf("`", i + 1);
      if (end < 0) throw new Error(`line ${line}: unterminated raw string`);
      tokens.push({ kind: "string", value: src.slice(i + 1, end), line });
      line += src.slice(i, end).split("\n").length - 1;
      i = end + 1;
    } else if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*/.exec(src.slice(i))!;
      tokens.push({ kind: "ident", value: m[0], line });
      i += m[0].length;
    } else if (/[0-9]/.test(ch)) {
      const m = /^[0-9][0-9._eE]*/.exec(src.slice(i))!;
      tokens.push({ kind: "number", value: m[0], line });
      i += m[0].length;
    } else if ("{}[](),=:".includes(ch)) {
      tokens.push({ kind: "punct", value: ch, line });
      i++;
    } else throw new Error(`line ${line}: unexpected character ${JSON.stringify(ch)}`);
  }
  return tokens;
}

interface AlloyBlock {
  name: string;
  label?: string;
  line: number;
  attrs: Map<string, Token[]>;
  blocks: AlloyBlock[];
}

/** Parses Alloy's body grammar: `name = expression` attributes and `name "label" { ... }` blocks. */
function parseAlloy(src: string): AlloyBlock {
  const tokens = tokenizeAlloy(src);
  let pos = 0;
  const skipNewlines = () => {
    while (tokens[pos]?.kind === "newline") pos++;
  };
  function expression(): Token[] {
    const out: Token[] = [];
    const stack: string[] = [];
    const pairs: Record<string, string> = { "(": ")", "[": "]", "{": "}" };
    for (;;) {
      const t = tokens[pos];
      if (!t) break;
      if (stack.length === 0 && (t.kind === "newline" || (t.kind === "punct" && t.value === "}"))) break;
      if (t.kind === "punct" && pairs[t.value]) stack.push(pairs[t.value]!);
      else if (t.kind === "punct" && ")]}".includes(t.value)) {
        if (stack.pop() !== t.value) throw new Error(`line ${t.line}: unbalanced ${t.value}`);
      }
      out.push(t);
      pos++;
    }
    if (stack.length) throw new Error(`unclosed ${stack.join("")} in expression`);
    if (out.length === 0) throw new Error(`line ${tokens[pos - 1]?.line}: empty expression`);
    return out;
  }
  function body(block: AlloyBlock, closing: boolean): void {
    for (;;) {
      skipNewlines();
      const t = tokens[pos];
      if (!t) {
        if (closing) throw new Error(`block ${block.name} (line ${block.line}) is not closed`);
        return;
      }
      if (t.kind === "punct" && t.value === "}") {
        if (!closing) throw new Error(`line ${t.line}: unexpected }`);
        pos++;
        return;
      }
      if (t.kind !== "ident") throw new Error(`line ${t.line}: expected a name, got ${t.value}`);
      pos++;
      const next = tokens[pos];
      if (next?.kind === "punct" && next.value === "=") {
        pos++;
        if (block.attrs.has(t.value)) throw new Error(`line ${t.line}: ${t.value} set twice`);
        block.attrs.set(t.value, expression());
        continue;
      }
      const child: AlloyBlock = { name: t.value, line: t.line, attrs: new Map(), blocks: [] };
      if (next?.kind === "string") {
        child.label = next.value;
        pos++;
      }
      const open = tokens[pos];
      if (!(open?.kind === "punct" && open.value === "{")) throw new Error(`line ${t.line}: expected { after ${t.value}`);
      pos++;
      body(child, true);
      block.blocks.push(child);
    }
  }
  const root: AlloyBlock = { name: "<root>", line: 0, attrs: new Map(), blocks: [] };
  body(root, false);
  return root;
}

interface BlockSchema {
  attrs: string[];
  blocks?: Record<string, BlockSchema>;
  /** Fields other components may reference. */
  exports?: string[];
}

/**
 * The arguments and blocks of each component this configuration uses, as Grafana's Alloy
 * reference documents them (docs/sources/reference/components/**, checked against Alloy 1.18).
 * A misspelt argument fails here instead of on the host.
 */
const OUTPUT: BlockSchema = { attrs: ["metrics", "logs", "traces"] };
const ALLOY_SCHEMA: Record<string, BlockSchema> = {
  "otelcol.receiver.otlp": {
    attrs: [],
    blocks: {
      grpc: { attrs: ["endpoint", "transport", "max_recv_msg_size", "max_concurrent_streams", "read_buffer_size", "write_buffer_size", "include_metadata", "auth"] },
      http: {
        attrs: ["endpoint", "max_request_body_size", "include_metadata", "traces_url_path", "metrics_url_path", "logs_url_path", "auth", "compression_algorithms", "read_timeout", "read_header_timeout", "write_timeout", "idle_timeout", "keep_alives_enabled"],
      },
      output: OUTPUT,
    },
  },
  "otelcol.processor.memory_limiter": {
    attrs: ["check_interval", "limit", "spike_limit", "limit_percentage", "spike_limit_percentage"],
    blocks: { output: OUTPUT },
    exports: ["input"],
  },
  "otelcol.processor.batch": {
    attrs: ["timeout", "send_batch_size", "send_batch_max_size", "metadata_keys", "metadata_cardinality_limit"],
    blocks: { output: OUTPUT },
    exports: ["input"],
  },
  "otelcol.auth.basic": {
    attrs: [],
    blocks: { client_auth: { attrs: ["username", "password", "username_file", "password_file"] } },
    exports: ["handler"],
  },
  "otelcol.exporter.otlphttp": {
    attrs: ["encoding", "traces_endpoint", "metrics_endpoint", "logs_endpoint"],
    blocks: {
      client: { attrs: ["endpoint", "auth", "compression", "headers", "timeout", "proxy_url"] },
      sending_queue: { attrs: ["enabled", "num_consumers", "queue_size", "blocking", "sizer"] },
      retry_on_failure: { attrs: ["enabled", "initial_interval", "max_interval", "max_elapsed_time", "multiplier", "randomization_factor"] },
    },
    exports: ["input"],
  },
  "local.file_match": { attrs: ["path_targets", "sync_period", "ignore_older_than"], exports: ["targets"] },
  "loki.source.file": {
    attrs: ["targets", "forward_to", "encoding", "tail_from_end", "legacy_positions_file", "on_positions_file_error"],
  },
  "loki.process": {
    attrs: ["forward_to"],
    blocks: {
      "stage.json": { attrs: ["expressions", "source", "drop_malformed"] },
      "stage.timestamp": { attrs: ["source", "format", "fallback_formats", "location", "action_on_failure"] },
      "stage.labels": { attrs: ["values"] },
      "stage.structured_metadata": { attrs: ["values", "regex"] },
    },
    exports: ["receiver"],
  },
  "loki.write": {
    attrs: ["external_labels", "max_streams"],
    blocks: {
      endpoint: {
        attrs: ["url", "name", "batch_wait", "batch_size", "remote_timeout", "headers", "tenant_id", "retry_on_http_429", "min_backoff_period", "max_backoff_period", "max_backoff_retries"],
        blocks: { basic_auth: { attrs: ["username", "password", "password_file"] } },
      },
    },
    exports: ["receiver"],
  },
};

function schemaProblems(block: AlloyBlock, schema: BlockSchema, path: string): string[] {
  const problems: string[] = [];
  for (const attr of block.attrs.keys()) {
    if (!schema.attrs.includes(attr)) problems.push(`${path}: unknown argument ${attr}`);
  }
  for (const child of block.blocks) {
    const childSchema = schema.blocks?.[child.name];
    if (!childSchema) problems.push(`${path}: unknown block ${child.name}`);
    else problems.push(...schemaProblems(child, childSchema, `${path} > ${child.name}`));
  }
  return problems;
}

/** Every block under `block`, depth first, with its path of block names. */
function* walk(block: AlloyBlock, path: string[] = []): Generator<[AlloyBlock, string[]]> {
  for (const child of block.blocks) {
    yield [child, [...path, child.name]];
    yield* walk(child, [...path, child.name]);
  }
}

/** `sys.env("NAME")` if that is the whole expression, else undefined. */
function envCall(tokens: Token[] | undefined): string | undefined {
  const [fn, open, arg, close] = tokens ?? [];
  if (tokens?.length === 4 && fn?.value === "sys.env" && open?.value === "(" && arg?.kind === "string" && close?.value === ")") {
    return arg.value;
  }
  return undefined;
}

/** The keys of an object literal `{ key = "", ... }` expression. */
function objectKeys(tokens: Token[] | undefined): string[] {
  const keys: string[] = [];
  const list = tokens ?? [];
  for (let i = 1; i < list.length; i++) {
    if (list[i]?.value === "=" && list[i - 1] && ["ident", "string"].includes(list[i - 1]!.kind)) keys.push(list[i - 1]!.value);
  }
  return keys;
}

describe("infra/alloy/config.alloy", () => {
  const source = read("infra/alloy/config.alloy");
  const config = parseAlloy(source);
  const components = config.blocks;
  const find = (name: string) => components.filter((c) => c.name === name);
  const one = (name: string) => {
    const found = find(name);
    expect(found.length, name).toBe(1);
    return found[0]!;
  };

  test("parses: balanced blocks, labelled components, no duplicate labels", () => {
    expect(components.length).toBeGreaterThanOrEqual(9);
    const seen = new Set<string>();
    for (const c of components) {
      expect(c.label, `${c.name} at line ${c.line} has a label`).toBeString();
      const id = `${c.name}.${c.label}`;
      expect(seen.has(id), id).toBe(false);
      seen.add(id);
    }
    expect(config.attrs.size).toBe(0);
  });

  test("the parser rejects what Alloy would", () => {
    expect(() => parseAlloy(`otelcol.processor.batch "a" {\n  timeout = "1s"\n`)).toThrow(/not closed/);
    expect(() => parseAlloy(`a "x" {\n  b = [1, 2\n}`)).toThrow();
    expect(() => parseAlloy(`a "x" {\n  b = "open\n}`)).toThrow(/newline in string/);
    expect(schemaProblems(parseAlloy(`x {\n  send_batch = 1\n}`).blocks[0]!, ALLOY_SCHEMA["otelcol.processor.batch"]!, "batch")).toEqual([
      "batch: unknown argument send_batch",
    ]);
  });

  test("uses only documented component arguments and blocks", () => {
    const problems: string[] = [];
    for (const c of components) {
      const schema = ALLOY_SCHEMA[c.name];
      if (!schema) problems.push(`${c.name}: component not in the checked schema`);
      else problems.push(...schemaProblems(c, schema, `${c.name} "${c.label}"`));
    }
    expect(problems).toEqual([]);
  });

  test("every reference names a declared component and one of its exports", () => {
    const declared = new Map(components.map((c) => [`${c.name}.${c.label}`, c.name]));
    const problems: string[] = [];
    const references: string[] = [];
    for (const [block] of walk(config)) {
      for (const expr of block.attrs.values()) {
        for (const t of expr) {
          if (t.kind !== "ident" || t.value === "sys.env" || !t.value.includes(".")) continue;
          references.push(t.value);
          const target = [...declared.keys()].find((id) => t.value.startsWith(id + "."));
          const exported = target ? t.value.slice(target.length + 1) : undefined;
          if (!target || !ALLOY_SCHEMA[declared.get(target)!]?.exports?.includes(exported!)) {
            problems.push(`line ${t.line}: ${t.value}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    // Traces: receiver -> memory_limiter -> batch -> exporter; logs: file -> process -> write.
    const out = (name: string, signal: string) =>
      one(name).blocks.find((b) => b.name === "output")?.attrs.get(signal)?.map((t) => t.value).join("");
    expect(out("otelcol.receiver.otlp", "traces")).toBe("[otelcol.processor.memory_limiter.default.input]");
    expect(out("otelcol.processor.memory_limiter", "traces")).toBe("[otelcol.processor.batch.default.input]");
    expect(out("otelcol.processor.batch", "traces")).toBe("[otelcol.exporter.otlphttp.grafana_cloud.input]");
    expect(references).toContain("otelcol.auth.basic.grafana_cloud.handler");
    expect(references).toContain("loki.process.service.receiver");
    expect(references).toContain("loki.write.grafana_cloud.receiver");
  });

  test("receives OTLP on 127.0.0.1:4317 (gRPC) and 127.0.0.1:4318 (HTTP) only", () => {
    const receiver = one("otelcol.receiver.otlp");
    const endpoint = (name: string) => receiver.blocks.find((b) => b.name === name)?.attrs.get("endpoint");
    expect(endpoint("grpc")?.map((t) => t.value)).toEqual(["127.0.0.1:4317"]);
    expect(endpoint("http")?.map((t) => t.value)).toEqual(["127.0.0.1:4318"]);
    const listens = tokenizeAlloy(source).filter((t) => t.kind === "string" && /^[\w.[\]:]*:\d+$/.test(t.value));
    for (const t of listens) expect(t.value, `line ${t.line}`).toMatch(/^127\.0\.0\.1:/);
    expect(source).not.toContain("0.0.0.0");
  });

  test("bounds memory and batches with explicit sizes and timeout", () => {
    const limiter = one("otelcol.processor.memory_limiter");
    for (const a of ["check_interval", "limit_percentage", "spike_limit_percentage"]) expect(limiter.attrs.has(a), a).toBe(true);
    const batch = one("otelcol.processor.batch");
    const num = (a: string) => Number(batch.attrs.get(a)?.[0]?.value);
    expect(num("send_batch_size")).toBeGreaterThan(0);
    expect(num("send_batch_max_size")).toBeGreaterThanOrEqual(num("send_batch_size"));
    expect(batch.attrs.get("timeout")?.[0]?.kind).toBe("string");
  });

  test("takes every endpoint and credential from sys.env, with no literal secret", () => {
    const auth = one("otelcol.auth.basic").blocks.find((b) => b.name === "client_auth")!;
    expect(envCall(auth.attrs.get("username"))).toBe("GRAFANA_INSTANCE_ID");
    expect(envCall(auth.attrs.get("password"))).toBe("GRAFANA_API_TOKEN");
    const client = one("otelcol.exporter.otlphttp").blocks.find((b) => b.name === "client")!;
    expect(envCall(client.attrs.get("endpoint"))).toBe("GRAFANA_OTLP_ENDPOINT");
    const endpoint = one("loki.write").blocks.find((b) => b.name === "endpoint")!;
    expect(envCall(endpoint.attrs.get("url"))).toBe("GRAFANA_LOKI_ENDPOINT");
    const basic = endpoint.blocks.find((b) => b.name === "basic_auth")!;
    expect(envCall(basic.attrs.get("username"))).toBe("GRAFANA_LOKI_USER");
    expect(envCall(basic.attrs.get("password"))).toBeString();

    // Any username/password/token/url anywhere is a sys.env() call.
    for (const [block, path] of walk(config)) {
      for (const [name, expr] of block.attrs) {
        if (/^(username|password|token|bearer_token|url)$/.test(name)) expect(envCall(expr), `${path.join(" > ")} ${name}`).toBeString();
      }
    }
    const strings = tokenizeAlloy(source).filter((t) => t.kind === "string").map((t) => t.value);
    for (const s of strings) {
      expect(s).not.toMatch(/^glc_|^[A-Za-z0-9+/=_-]{32,}$/);
      expect(s).not.toMatch(/^https?:\/\//);
    }
  });

  test("ships the service's JSON log lines with only `level` as a label", () => {
    const files = one("local.file_match").attrs.get("path_targets")!;
    const path = files[files.findIndex((t) => t.value === "__path__") + 2]?.value;
    expect(path).toBe("/var/log/hybrid-image-search/service.log");
    const process = one("loki.process");
    const stage = (name: string) => process.blocks.find((b) => b.name === name)!;
    expect(objectKeys(stage("stage.json").attrs.get("expressions"))).toEqual(
      expect.arrayContaining(["level", "trace_id", "span_id", "route", "time"]),
    );
    expect(objectKeys(stage("stage.labels").attrs.get("values"))).toEqual(["level"]);
    expect(objectKeys(stage("stage.structured_metadata").attrs.get("values"))).toEqual(
      expect.arrayContaining(["trace_id", "span_id"]),
    );
    expect(stage("stage.timestamp").attrs.get("source")?.[0]?.value).toBe("time");
  });
});

// ---------------------------------------------------------------------------------------------
// EC2: systemd units, settings
// ---------------------------------------------------------------------------------------------

/** A systemd unit file: section -> key -> values (keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = sections.get(section[1]!) ?? new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** A systemd time span ("30", "30s", "1min 30s") in seconds. */
function seconds(span: string): number {
  const units: Record<string, number> = { "": 1, s: 1, sec: 1, m: 60, min: 60, h: 3600, ms: 0.001 };
  let total = 0;
  for (const [, n, unit] of span.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]*)/g)) {
    if (!(unit! in units)) throw new Error(`unknown time unit in ${span}`);
    total += Number(n) * units[unit!]!;
  }
  return total;
}

/** The settings table of the design document (the shared/ copy beside the repository). */
const SETTINGS = [
  "PORT",
  "DATA_DIR",
  "DATABASE_URL",
  "S3_BUCKET",
  "S3_ENDPOINT",
  "S3_REGION",
  "S3_FORCE_PATH_STYLE",
  "GEMINI_API_KEY",
  "GEMINI_BASE_URL",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_SDK_DISABLED",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
  "DEPLOYMENT_ENV",
  "API_KEYS",
  "PUBLIC_READS",
  "MAX_JSON_BYTES",
  "RATE_LIMIT_SEARCH_PER_MINUTE",
  "RATE_LIMIT_GENERATE_PER_MINUTE",
  "GRAFANA_URL",
  "GRAFANA_TEMPO_UID",
];

describe("infra/ec2", () => {
  const unit = parseUnit(read("infra/ec2/hybrid-image-search.service"));
  const service = unit.get("Service")!;
  const get = (key: string) => service.get(key)?.at(-1);

  test("the service unit restarts on failure and stops with SIGTERM and time to drain and flush", () => {
    expect(get("Restart")).toBe("on-failure");
    expect(get("KillSignal")).toBe("SIGTERM");
    // 10 s request drain + 5 s span flush must fit before SIGKILL.
    expect(seconds(get("TimeoutStopSec")!)).toBeGreaterThanOrEqual(20);
    expect(seconds("1min 30s")).toBe(90);
  });

  test("the service unit reads /etc/hybrid-image-search/env and runs `bun run start`'s script as a service user", () => {
    expect(service.get("EnvironmentFile")).toContain("/etc/hybrid-image-search/env");
    expect(["root", "0", undefined]).not.toContain(get("User"));
    const pkg = JSON.parse(read("package.json")) as { scripts: { start: string } };
    expect(get("ExecStart")).toBe(`/usr/local/bin/${pkg.scripts.start}`);
    expect(unit.get("Install")?.get("WantedBy")).toEqual(["multi-user.target"]);
  });

  test("the service writes its log where Alloy reads it", () => {
    const alloyPath = /"__path__"\s*=\s*"([^"]+)"/.exec(read("infra/alloy/config.alloy"))![1];
    expect(get("StandardOutput")).toBe(`append:${alloyPath}`);
    expect(get("StandardError")).toBe(`append:${alloyPath}`);
    expect(read("infra/ec2/hybrid-image-search.tmpfiles.conf")).toContain(alloyPath!);
    expect(read("infra/ec2/hybrid-image-search.logrotate")).toContain(alloyPath!);
  });

  test("the Alloy drop-in supplies every variable config.alloy reads", () => {
    const dropIn = parseUnit(read("infra/ec2/alloy.service.d/override.conf")).get("Service")!;
    expect(dropIn.get("EnvironmentFile")).toEqual(["/etc/alloy/grafana-cloud.env"]);
    expect(dropIn.get("KillSignal")).toEqual(["SIGTERM"]);
    expect(seconds(dropIn.get("TimeoutStopSec")![0]!)).toBeGreaterThanOrEqual(20);
    const used = [...read("infra/alloy/config.alloy").matchAll(/sys\.env\("(\w+)"\)/g)].map((m) => m[1]!);
    expect(new Set(used)).toEqual(
      new Set(["GRAFANA_OTLP_ENDPOINT", "GRAFANA_INSTANCE_ID", "GRAFANA_API_TOKEN", "GRAFANA_LOKI_ENDPOINT", "GRAFANA_LOKI_USER"]),
    );
    const example = read("infra/ec2/grafana-cloud.env.example");
    for (const name of used) expect(example, name).toMatch(new RegExp(`^${name}=`, "m"));
  });

  test("the environment file and the guide list every setting of the design", () => {
    const design = resolve(ROOT, "..", "shared", "DESIGN.md");
    if (existsSync(design) && statSync(design).isFile()) {
      const table = readFileSync(design, "utf8").split("## Settings")[1]!.split("\n## ")[0]!;
      const named = [...table.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
      const expanded = named.flatMap((n) => (n === "OTEL_TRACES_SAMPLER" ? [n, "OTEL_TRACES_SAMPLER_ARG"] : [n]));
      expect(SETTINGS).toEqual(expect.arrayContaining(expanded));
    }
    const example = read("infra/ec2/env.example");
    const guide = read("infra/ec2/README.md");
    for (const name of SETTINGS) {
      expect(example, name).toMatch(new RegExp(`^#?${name}=`, "m"));
      expect(guide, name).toContain(`\`${name}\``);
    }
    expect(guide).toContain("0600");
  });
});

// ---------------------------------------------------------------------------------------------
// Local stack
// ---------------------------------------------------------------------------------------------

describe("infra/local/compose.yaml", () => {
  const compose = Bun.YAML.parse(read("infra/local/compose.yaml")) as {
    services: Record<string, { image: string; ports: string[]; volumes: string[] }>;
  };
  const lgtm = compose.services.lgtm!;

  test("runs a pinned grafana/otel-lgtm with every port on loopback", () => {
    expect(lgtm.image).toMatch(/^grafana\/otel-lgtm:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    expect(lgtm.ports).toEqual(["127.0.0.1:3001:3000", "127.0.0.1:4317:4317", "127.0.0.1:4318:4318"]);
  });

  test("provisions the dashboard from files that exist", () => {
    const mounts = lgtm.volumes.filter((v) => v.startsWith("."));
    expect(mounts.length).toBe(2);
    for (const mount of mounts) {
      const [host, container] = mount.split(":");
      expect(existsSync(join(ROOT, "infra/local", host!)), host).toBe(true);
      expect(container).toStartWith("/otel-lgtm/grafana/conf/provisioning/dashboards/");
    }
    const provider = Bun.YAML.parse(read("infra/local/grafana-dashboards.yaml")) as {
      providers: { options: { path: string } }[];
    };
    const dashboardMount = mounts.find((m) => m.startsWith("../grafana/dashboard.json:"))!;
    expect(dashboardMount.split(":")[1]).toStartWith(provider.providers[0]!.options.path + "/");
  });
});
