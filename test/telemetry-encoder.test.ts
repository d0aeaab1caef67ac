/**
 * The recorder's OTLP encoder against the official one: for thousands of random spans, decoding
 * our bytes and decoding `ProtobufTraceSerializer`'s bytes with the OTLP proto definitions
 * (`test/harness/otlp.proto`, protobufjs) must give the same request — apart from the one
 * documented difference, that a number under a double key (the process readings) is a
 * `double_value` even when it is whole.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { join } from "node:path";
import { SpanKind, TraceFlags, type Attributes, type HrTime, type Link, type SpanContext } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import { loadSync } from "protobufjs";
import { OtlpTraceEncoder } from "../src/telemetry/encoder.ts";
import { DOUBLE_ATTRIBUTES, PROCESS_ATTR } from "../src/telemetry/names.ts";
import { RecordedSpan, type SpanSink } from "../src/telemetry/span.ts";

const proto = loadSync(join(import.meta.dir, "harness", "otlp.proto")).lookupType("opentelemetry.proto.ExportTraceServiceRequest");
/** Every field as the wire has it: presence of zero values, int64 as strings, bytes as hex. */
const decode = (bytes: Uint8Array) =>
  proto.toObject(proto.decode(bytes), { longs: String, bytes: String, oneofs: true, arrays: true }) as WireRequest;
const official = (spans: ReadableSpan[]) => decode(ProtobufTraceSerializer.serializeRequest(spans)!);
const ours = (spans: ReadableSpan[], encoder = new OtlpTraceEncoder(DOUBLE_ATTRIBUTES)) => positiveZero(decode(encoder.encode(spans)));

interface WireKeyValue {
  key: string;
  value?: { value?: string; intValue?: string; doubleValue?: number } & Record<string, unknown>;
}
interface WireRequest {
  resourceSpans: Array<{
    resource?: { attributes: WireKeyValue[] };
    scopeSpans: Array<{ scope?: { attributes: WireKeyValue[] }; spans: Array<{ attributes: WireKeyValue[] } & Record<string, unknown>> }>;
  }>;
}

/**
 * The official request with the documented difference applied: under a double key, a number the
 * official serializer sent as `int_value` is expected as a `double_value` of the same number
 * (in span attributes, and in every other attribute list, which share one writer).
 */
function withDoubles(request: WireRequest, doubleKeys: ReadonlySet<string> = DOUBLE_ATTRIBUTES): WireRequest {
  return mapAttributeLists(request, (kv) => {
    if (doubleKeys.has(kv.key) && kv.value?.value === "intValue") {
      kv.value = { doubleValue: Number(kv.value.intValue), value: "doubleValue" };
    }
  });
}

/** -0 is whole too: under a double key the official serializer sends it as int 0, we as the double -0. */
function positiveZero(request: WireRequest, doubleKeys: ReadonlySet<string> = DOUBLE_ATTRIBUTES): WireRequest {
  return mapAttributeLists(request, (kv) => {
    if (doubleKeys.has(kv.key) && Object.is(kv.value?.doubleValue, -0)) kv.value!.doubleValue = 0;
  });
}

function mapAttributeLists(request: WireRequest, fixOne: (kv: WireKeyValue) => void): WireRequest {
  const fix = (list: WireKeyValue[] | undefined) => {
    for (const kv of list ?? []) fixOne(kv);
  };
  for (const rs of request.resourceSpans) {
    fix(rs.resource?.attributes);
    for (const ss of rs.scopeSpans) {
      fix(ss.scope?.attributes);
      for (const span of ss.spans) {
        fix(span.attributes);
        for (const e of (span.events as Array<{ attributes: WireKeyValue[] }>) ?? []) fix(e.attributes);
        for (const l of (span.links as Array<{ attributes: WireKeyValue[] }>) ?? []) fix(l.attributes);
      }
    }
  }
  return request;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"));
/** UTF-16 code units of every kind, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant("") },
  // Across the one- and two-byte length boundaries (127/128, 16383/16384 bytes).
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 100, max: 20_000 }), fc.string({ unit: "grapheme", minLength: 1, maxLength: 3 })).map(([n, s]) => s.repeat(Math.ceil(n / s.length)).slice(0, n)) },
);
const integer = fc.oneof(
  fc.integer(),
  fc.integer({ min: -200, max: 200 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(Number),
  fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 63, -(2 ** 63), 2 ** 64, 0xffffffff, 0x100000000, -1, -0),
);
const number = fc.oneof(integer, fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0.1, 2.5, 1e300, -1e-300));
const primitive = fc.oneof(text, fc.boolean(), number);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: primitive },
  { weight: 2, arbitrary: fc.oneof(fc.array(text, { maxLength: 5 }), fc.array(number, { maxLength: 5 }), fc.array(fc.boolean(), { maxLength: 5 })) },
  // Arrays with holes: the SDK allows null/undefined entries in homogeneous arrays.
  { weight: 1, arbitrary: fc.array(fc.option(text, { nil: undefined }), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null) },
  // Beyond AttributeValue, but AnyValue has them and the official serializer writes them.
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.dictionary(text, primitive, { maxKeys: 3 }) },
);
const attributeKey = fc.oneof(text, fc.constantFrom(...DOUBLE_ATTRIBUTES, PROCESS_ATTR.memoryDeltaKb, "http.response.status_code"));
const attributes = fc.dictionary(attributeKey, value, { maxKeys: 12 }) as fc.Arbitrary<Attributes>;
const hrTime: fc.Arbitrary<HrTime> = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 999_999_999 }));
const traceState = fc.option(
  fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9_*-]{0,10}$/), fc.stringMatching(/^[a-z0-9]{1,10}$/)), { maxLength: 3 }).map(
    (pairs) => new TraceState(pairs.map(([k, v]) => `${k}=${v}`).join(",")),
  ),
  { nil: undefined },
);
const spanContext: fc.Arbitrary<SpanContext> = fc.record({
  traceId: hex(16),
  spanId: hex(8),
  traceFlags: fc.integer({ min: 0, max: 255 }),
  traceState,
  isRemote: fc.option(fc.boolean(), { nil: undefined }),
});
const count = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0xffffffff }));
const event: fc.Arbitrary<TimedEvent> = fc.record({
  name: text,
  time: hrTime,
  attributes: fc.option(attributes, { nil: undefined }),
  droppedAttributesCount: fc.option(count, { nil: undefined }),
}) as fc.Arbitrary<TimedEvent>;
const link: fc.Arbitrary<Link> = fc.record({
  context: spanContext,
  attributes: fc.option(attributes, { nil: undefined }),
  droppedAttributesCount: fc.option(count, { nil: undefined }),
}) as fc.Arbitrary<Link>;
const status = fc.record({ code: fc.integer({ min: 0, max: 2 }), message: fc.option(text, { nil: undefined }) });

/** A pool of resources and scopes that spans pick from, so requests group several of each. */
const pools = fc.record({
  resources: fc.array(
    fc.tuple(attributes, fc.option(text, { nil: undefined })).map(([attrs, schemaUrl]) => resourceFromAttributes(attrs as never, { schemaUrl })),
    { minLength: 1, maxLength: 3 },
  ),
  scopes: fc.array(
    fc.record({ name: text, version: fc.option(text, { nil: undefined }), schemaUrl: fc.option(text, { nil: undefined }) }),
    { minLength: 1, maxLength: 3 },
  ),
});

function readableSpan(resources: Resource[], scopes: ReadableSpan["instrumentationScope"][]): fc.Arbitrary<ReadableSpan> {
  return fc
    .record({
      context: spanContext,
      parent: fc.option(spanContext, { nil: undefined }),
      name: text,
      kind: fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER),
      startTime: hrTime,
      endTime: hrTime,
      attributes,
      events: fc.array(event, { maxLength: 3 }),
      links: fc.array(link, { maxLength: 3 }),
      status,
      dropped: fc.tuple(count, count, count),
      resource: fc.integer({ min: 0, max: resources.length - 1 }),
      scope: fc.integer({ min: 0, max: scopes.length - 1 }),
    })
    .map((r) => ({
      name: r.name,
      kind: r.kind,
      spanContext: () => r.context,
      parentSpanContext: r.parent,
      startTime: r.startTime,
      endTime: r.endTime,
      duration: [0, 0] as HrTime,
      status: r.status,
      attributes: r.attributes,
      links: r.links,
      events: r.events,
      ended: true,
      resource: resources[r.resource]!,
      instrumentationScope: scopes[r.scope]!,
      droppedAttributesCount: r.dropped[0],
      droppedEventsCount: r.dropped[1],
      droppedLinksCount: r.dropped[2],
    }));
}

const batches = pools.chain(({ resources, scopes }) => fc.array(readableSpan(resources, scopes), { minLength: 1, maxLength: 12 }));

const noSink: SpanSink = {
  onEnd() {},
  stats: () => ({ ended: 0, exported: 0, dropped: 0, droppedQueueFull: 0, droppedExportFailed: 0, queued: 0, inFlight: 0, failedExports: 0 }),
  flush: async () => {},
  shutdown: async () => {},
};

describe("the OTLP encoder decodes to what the official serializer sends", () => {
  test("random spans, several resources and scopes: the same request (numbers under double keys are doubles)", () => {
    // One encoder for the whole run, so every case also checks that the reused buffer starts clean.
    const encoder = new OtlpTraceEncoder(DOUBLE_ATTRIBUTES);
    let spans = 0;
    fc.assert(
      fc.property(batches, (batch) => {
        spans += batch.length;
        expect(ours(batch, encoder)).toEqual(withDoubles(official(batch)));
      }),
      { numRuns: 500 },
    );
    expect(spans).toBeGreaterThan(2_000);
  }, 120_000);

  test("the recorder's own spans, appended one by one and sealed per batch: the same request", () => {
    const encoder = new OtlpTraceEncoder(DOUBLE_ATTRIBUTES);
    const resource = resourceFromAttributes({ "service.name": "encoder-spec", "service.version": "1.0.0" });
    const scope = { name: "encoder-spec", version: "1.0.0" };
    const recorded = fc
      .record({
        name: text,
        kind: fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT),
        context: spanContext,
        parent: fc.option(spanContext, { nil: undefined }),
        attributes,
        events: fc.array(fc.tuple(text, attributes), { maxLength: 2 }),
        links: fc.array(link, { maxLength: 2 }),
        status: fc.option(status, { nil: undefined }),
        ended: fc.boolean(),
      })
      .map((r) => {
        const span = new RecordedSpan(r.name, r.kind, r.context.traceId, r.context.spanId, r.parent, {}, resource, scope, noSink, r.context.traceState);
        span.setAttributes(r.attributes);
        for (const [name, attrs] of r.events) span.addEvent(name, attrs);
        for (const l of r.links) span.addLink(l);
        if (r.status) span.setStatus(r.status);
        if (r.ended) span.end();
        return span;
      });
    fc.assert(
      fc.property(fc.array(recorded, { minLength: 1, maxLength: 20 }), (spans) => {
        for (const span of spans) encoder.append(span);
        expect(positiveZero(decode(encoder.seal(resource, scope)))).toEqual(withDoubles(official(spans)));
        expect(encoder.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  test("a whole-number reading stays a double; other whole numbers stay ints", () => {
    const span = fixedSpan({ [PROCESS_ATTR.cpuUserMs]: 2, [PROCESS_ATTR.memoryMb]: 61, [PROCESS_ATTR.memoryDeltaKb]: 128, "http.response.status_code": 200 });
    const attrs = Object.fromEntries(ours([span]).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.map((kv) => [kv.key, kv.value]));
    expect(attrs[PROCESS_ATTR.cpuUserMs]).toEqual({ doubleValue: 2, value: "doubleValue" });
    expect(attrs[PROCESS_ATTR.memoryMb]).toEqual({ doubleValue: 61, value: "doubleValue" });
    expect(attrs[PROCESS_ATTR.memoryDeltaKb]).toEqual({ intValue: "128", value: "intValue" });
    expect(attrs["http.response.status_code"]).toEqual({ intValue: "200", value: "intValue" });
    // The official serializer sends the whole reading as an int: the difference is real.
    const theirs = Object.fromEntries(official([span]).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.map((kv) => [kv.key, kv.value]));
    expect(theirs[PROCESS_ATTR.cpuUserMs]).toEqual({ intValue: "2", value: "intValue" });
  });

  test("a large batch is one request whose length prefixes need several bytes", () => {
    const spans = Array.from({ length: 4_000 }, (_, i) => fixedSpan({ i, "user_agent.original": "x".repeat(i % 1_000) }));
    const bytes = new OtlpTraceEncoder(DOUBLE_ATTRIBUTES).encode(spans);
    // Past 2^21 bytes the request's own length takes a four-byte varint.
    expect(bytes.length).toBeGreaterThan(2 ** 21);
    expect(decode(bytes)).toEqual(official(spans));
  });
});

const FIXED_RESOURCE = resourceFromAttributes({ "service.name": "fixed" });
const FIXED_SCOPE = { name: "fixed" };

function fixedSpan(attributes: Attributes): ReadableSpan {
  const context = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };
  return {
    name: "fixed",
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext: undefined,
    startTime: [1_700_000_000, 5],
    endTime: [1_700_000_001, 7],
    duration: [1, 2],
    status: { code: 0 },
    attributes,
    links: [],
    events: [],
    ended: true,
    resource: FIXED_RESOURCE,
    instrumentationScope: FIXED_SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
