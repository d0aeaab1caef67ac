/**
 * An OTLP/HTTP trace receiver for tests: a loopback `Bun.serve` that decodes the protobuf body of
 * every `POST /v1/traces` with protobufjs and the message definitions in `otlp.proto`, and can
 * play a collector that is healthy, refusing, slow or down.
 *
 * Decoding is written here from the proto definitions (not taken from an OpenTelemetry package)
 * so that neither encoder it checks, the recorder's own or the official one, also decodes itself.
 */
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { loadSync, type IConversionOptions, type Type } from "protobufjs";

const root = loadSync(join(import.meta.dir, "otlp.proto"));
const ExportTraceServiceRequest: Type = root.lookupType("opentelemetry.proto.ExportTraceServiceRequest");
const toObjectOptions: IConversionOptions = { longs: BigInt, oneofs: true, arrays: true };

/** How the receiver answers: `ok` 200, `refuse-*` that status, `slow` 200 after `slowMs`. */
export type OtlpMode = "ok" | "refuse-400" | "refuse-500" | "refuse-503" | "slow";

/** The wire type of an OTLP `AnyValue`, named after its oneof field. */
export type AttributeType = "string" | "bool" | "int" | "double" | "array" | "kvlist" | "bytes" | "empty";

/**
 * One attribute value with its wire type. `int` values are numbers when safe, else bigints;
 * `array` holds typed elements, `kvlist` a record of typed values, `bytes` a Uint8Array.
 */
export interface TypedValue {
  type: AttributeType;
  value: unknown;
}

/** A span flattened out of ResourceSpans → ScopeSpans → Span, ids in lowercase hex. */
export interface DecodedSpan {
  traceId: string;
  spanId: string;
  /** `""` for a root span. */
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  /** 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  durationMs: number;
  /** Attributes with their wire types: assert `attributes["x"].type === "double"`. */
  attributes: Record<string, TypedValue>;
  /** The same attributes as plain values. */
  attrs: Record<string, unknown>;
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  events: { name: string; timeUnixNano: bigint; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string; attributes: Record<string, unknown> }[];
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
}

/** One HTTP request as the receiver saw it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  contentType: string;
  headers: Record<string, string>;
  /** Body size in bytes as sent (before any gunzip). */
  bodySize: number;
  mode: OtlpMode;
  /** The status the receiver answered with. */
  status: number;
  /** True when the answer was a 200, so a real collector would have kept the spans. */
  accepted: boolean;
  spans: DecodedSpan[];
  decodeError?: string;
}

/** Options for {@link startOtlpReceiver}. */
export interface OtlpReceiverOptions {
  mode?: OtlpMode;
  /** Delay of the `slow` mode; default 2000 ms. */
  slowMs?: number;
}

/** A running receiver; see {@link startOtlpReceiver}. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT/v1/traces`, for an exporter's `url`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT`, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  /** Requests answered per mode (a down receiver answers none, so counts none). */
  readonly counts: Record<OtlpMode, number>;
  readonly isUp: boolean;
  /** Spans of accepted (200) requests, in arrival order. */
  spans(): DecodedSpan[];
  /**
   * Resolves once `count` spans were accepted (with all of them), or once a span matches
   * `predicate` (with the matching ones); rejects after `timeoutMs` (default 5000).
   */
  waitForSpans(countOrPredicate: number | ((span: DecodedSpan) => boolean), timeoutMs?: number): Promise<DecodedSpan[]>;
  setMode(mode: OtlpMode, options?: { slowMs?: number }): void;
  /** Stops listening (connections closed, port released) until {@link OtlpReceiver.up}. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): void;
  /** Forgets requests and counts and returns to mode `ok`. */
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Starts an OTLP/HTTP trace receiver on 127.0.0.1 and an ephemeral port.
 *
 * @example
 * const receiver = startOtlpReceiver();
 * const exporter = new OTLPTraceExporter({ url: receiver.url });
 * // ... end some spans, force flush ...
 * const [root] = await receiver.waitForSpans((s) => s.kind === 2);
 * expect(root.attributes["http.response.status_code"]).toEqual({ type: "int", value: 200 });
 * await receiver.stop();
 */
export function startOtlpReceiver(options: OtlpReceiverOptions = {}): OtlpReceiver {
  let mode: OtlpMode = options.mode ?? "ok";
  let slowMs = options.slowMs ?? 2000;
  const requests: ReceivedRequest[] = [];
  const counts = zeroCounts();
  const waiters = new Set<() => void>();

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const body = new Uint8Array(await req.arrayBuffer());
    const current = mode;
    counts[current] += 1;
    const record: ReceivedRequest = {
      method: req.method,
      path: url.pathname,
      contentType: req.headers.get("content-type") ?? "",
      headers: Object.fromEntries(req.headers),
      bodySize: body.byteLength,
      mode: current,
      status: 0,
      accepted: false,
      spans: [],
    };
    requests.push(record);
    if (req.method !== "POST" || url.pathname !== "/v1/traces") {
      record.status = 404;
      return new Response("not found", { status: 404 });
    }
    try {
      const raw = record.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body;
      record.spans = decodeExportTraceServiceRequest(raw);
    } catch (error) {
      record.decodeError = String(error);
    }
    if (current === "slow") await Bun.sleep(slowMs);
    record.status = statusOf(current, record.decodeError);
    if (record.status !== 200) return new Response(`refused (${current})`, { status: record.status });
    record.accepted = true;
    for (const wake of [...waiters]) wake();
    // An empty ExportTraceServiceResponse encodes to zero bytes.
    return new Response(new Uint8Array(0), { status: 200, headers: { "content-type": "application/x-protobuf" } });
  }

  const listen = (port: number) => Bun.serve({ hostname: "127.0.0.1", port, fetch: handle });
  let server: ReturnType<typeof listen> | undefined = listen(0);
  const port = server.port ?? 0;
  const endpoint = `http://127.0.0.1:${port}`;
  const spans = () => requests.filter((r) => r.accepted).flatMap((r) => r.spans);

  return {
    url: `${endpoint}/v1/traces`,
    endpoint,
    port,
    requests,
    counts,
    get isUp() {
      return server !== undefined;
    },
    spans,
    waitForSpans(countOrPredicate, timeoutMs = 5000) {
      const check = (): DecodedSpan[] | undefined => {
        const all = spans();
        if (typeof countOrPredicate === "number") return all.length >= countOrPredicate ? all : undefined;
        const matching = all.filter(countOrPredicate);
        return matching.length > 0 ? matching : undefined;
      };
      return new Promise((resolve, reject) => {
        const done = check();
        if (done) return resolve(done);
        const wake = () => {
          const found = check();
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          const names = spans().map((s) => s.name);
          reject(new Error(`waitForSpans timed out after ${timeoutMs} ms; received: [${names.join(", ")}]`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        waiters.add(wake);
      });
    },
    setMode(next, opts) {
      mode = next;
      if (opts?.slowMs !== undefined) slowMs = opts.slowMs;
    },
    async down() {
      const running = server;
      server = undefined;
      await running?.stop(true);
    },
    up() {
      server ??= listen(port);
    },
    reset() {
      requests.length = 0;
      Object.assign(counts, zeroCounts());
      mode = "ok";
    },
    async stop() {
      waiters.clear();
      const running = server;
      server = undefined;
      await running?.stop(true);
    },
  };
}

/**
 * Decodes a protobuf `ExportTraceServiceRequest` into flat spans.
 *
 * @example
 * const spans = decodeExportTraceServiceRequest(new Uint8Array(await request.arrayBuffer()));
 */
export function decodeExportTraceServiceRequest(body: Uint8Array): DecodedSpan[] {
  const message = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), toObjectOptions) as WireRequest;
  return message.resourceSpans.flatMap((rs) => {
    const resource = plain(typedRecord(rs.resource?.attributes));
    return rs.scopeSpans.flatMap((ss) => {
      const scope = { name: ss.scope?.name ?? "", version: ss.scope?.version ?? "" };
      return ss.spans.map((span) => decodeSpan(span, resource, scope));
    });
  });
}

function decodeSpan(span: WireSpan, resource: Record<string, unknown>, scope: DecodedSpan["scope"]): DecodedSpan {
  const attributes = typedRecord(span.attributes);
  const start = span.startTimeUnixNano ?? 0n;
  const end = span.endTimeUnixNano ?? 0n;
  return {
    traceId: hex(span.traceId),
    spanId: hex(span.spanId),
    parentSpanId: hex(span.parentSpanId),
    traceState: span.traceState ?? "",
    flags: span.flags ?? 0,
    name: span.name ?? "",
    kind: span.kind ?? 0,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    durationMs: Number(end - start) / 1e6,
    attributes,
    attrs: plain(attributes),
    status: { code: span.status?.code ?? 0, message: span.status?.message ?? "" },
    events: span.events.map((e) => ({
      name: e.name ?? "",
      timeUnixNano: e.timeUnixNano ?? 0n,
      attributes: plain(typedRecord(e.attributes)),
    })),
    links: span.links.map((l) => ({
      traceId: hex(l.traceId),
      spanId: hex(l.spanId),
      attributes: plain(typedRecord(l.attributes)),
    })),
    resource,
    scope,
  };
}

function typedRecord(list: WireKeyValue[] | undefined): Record<string, TypedValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key ?? "", typed(kv.value)]));
}

function typed(v: WireAnyValue | undefined): TypedValue {
  switch (v?.value) {
    case "stringValue":
      return { type: "string", value: v.stringValue };
    case "boolValue":
      return { type: "bool", value: v.boolValue };
    case "intValue": {
      const n = v.intValue ?? 0n;
      return { type: "int", value: n >= Number.MIN_SAFE_INTEGER && n <= Number.MAX_SAFE_INTEGER ? Number(n) : n };
    }
    case "doubleValue":
      return { type: "double", value: v.doubleValue };
    case "arrayValue":
      return { type: "array", value: (v.arrayValue?.values ?? []).map(typed) };
    case "kvlistValue":
      return { type: "kvlist", value: typedRecord(v.kvlistValue?.values) };
    case "bytesValue":
      return { type: "bytes", value: new Uint8Array(v.bytesValue ?? []) };
    default:
      return { type: "empty", value: undefined };
  }
}

function plainValue(t: TypedValue): unknown {
  if (t.type === "array") return (t.value as TypedValue[]).map(plainValue);
  if (t.type === "kvlist") return plain(t.value as Record<string, TypedValue>);
  return t.value;
}

function plain(record: Record<string, TypedValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([k, t]) => [k, plainValue(t)]));
}

function hex(bytes: Uint8Array | undefined): string {
  return bytes ? Buffer.from(bytes).toString("hex") : "";
}

function statusOf(mode: OtlpMode, decodeError: string | undefined): number {
  if (decodeError) return 400;
  if (mode === "refuse-400") return 400;
  if (mode === "refuse-500") return 500;
  if (mode === "refuse-503") return 503;
  return 200;
}

function zeroCounts(): Record<OtlpMode, number> {
  return { ok: 0, "refuse-400": 0, "refuse-500": 0, "refuse-503": 0, slow: 0 };
}

// The shapes protobufjs `toObject` yields for otlp.proto with the options above.
interface WireRequest {
  resourceSpans: { resource?: { attributes?: WireKeyValue[] }; scopeSpans: WireScopeSpans[] }[];
}
interface WireScopeSpans {
  scope?: { name?: string; version?: string };
  spans: WireSpan[];
}
interface WireSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  traceState?: string;
  flags?: number;
  name?: string;
  kind?: number;
  startTimeUnixNano?: bigint;
  endTimeUnixNano?: bigint;
  attributes: WireKeyValue[];
  events: { name?: string; timeUnixNano?: bigint; attributes: WireKeyValue[] }[];
  links: { traceId?: Uint8Array; spanId?: Uint8Array; attributes: WireKeyValue[] }[];
  status?: { code?: number; message?: string };
}
interface WireKeyValue {
  key?: string;
  value?: WireAnyValue;
}
interface WireAnyValue {
  value?: "stringValue" | "boolValue" | "intValue" | "doubleValue" | "arrayValue" | "kvlistValue" | "bytesValue";
  stringValue?: string;
  boolValue?: boolean;
  intValue?: bigint;
  doubleValue?: number;
  arrayValue?: { values?: WireAnyValue[] };
  kvlistValue?: { values?: WireKeyValue[] };
  bytesValue?: Uint8Array;
}
