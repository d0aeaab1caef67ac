/**
 * A counting OTLP/HTTP receiver for benchmarks, run as its own process so its work does not
 * share the measured process: answers every `POST /v1/traces` with 200 and an empty body, and
 * counts requests and spans. Spans are counted by walking the protobuf envelope
 * (ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span) with protobufjs's Reader,
 * skipping span bodies unread. `GET /stats` answers the counts; `POST /reset` zeroes them.
 *
 * Usage: bun run bench/telemetry/receiver.ts — prints `ready <port>` on stdout.
 */
import { Reader } from "protobufjs";

/** Counts the spans in an ExportTraceServiceRequest without decoding them. */
export function countSpans(body: Uint8Array): number {
  let spans = 0;
  const request = Reader.create(body);
  while (request.pos < request.len) {
    const tag = request.uint32();
    if (tag >>> 3 !== 1 || (tag & 7) !== 2) {
      request.skipType(tag & 7);
      continue;
    }
    const resourceSpans = Reader.create(request.bytes());
    while (resourceSpans.pos < resourceSpans.len) {
      const t = resourceSpans.uint32();
      if (t >>> 3 !== 2 || (t & 7) !== 2) {
        resourceSpans.skipType(t & 7);
        continue;
      }
      const scopeSpans = Reader.create(resourceSpans.bytes());
      while (scopeSpans.pos < scopeSpans.len) {
        const s = scopeSpans.uint32();
        if (s >>> 3 === 2 && (s & 7) === 2) spans++;
        scopeSpans.skipType(s & 7);
      }
    }
  }
  return spans;
}

if (import.meta.main) {
  const counts = { requests: 0, spans: 0, bytes: 0, decodeErrors: 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(process.argv[2] ?? 0),
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method === "POST" && path === "/v1/traces") {
        const body = new Uint8Array(await req.arrayBuffer());
        counts.requests++;
        counts.bytes += body.byteLength;
        try {
          counts.spans += countSpans(body);
        } catch {
          counts.decodeErrors++;
        }
        return new Response(null, { status: 200, headers: { "content-type": "application/x-protobuf" } });
      }
      if (path === "/stats") return Response.json(counts);
      if (req.method === "POST" && path === "/reset") {
        Object.assign(counts, { requests: 0, spans: 0, bytes: 0, decodeErrors: 0 });
        return Response.json(counts);
      }
      return new Response("not found", { status: 404 });
    },
  });
  console.log(`ready ${server.port}`);
}
