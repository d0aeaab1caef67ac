import { setTimeout as delay } from "node:timers/promises";
import {
  createOtlpNetworkExportDelegate,
  ExporterMetrics,
  getSharedConfigurationDefaults,
  mergeOtlpSharedConfigurationWithDefaults,
  OTLPExporterBase,
  type ExportResponse,
  type IExporterTransport,
} from "@opentelemetry/otlp-exporter-base";
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from "@opentelemetry/otlp-transformer";
import type { TelemetryConfig } from "./config.ts";
import type { BatchExporter, SpanBatch } from "./spanprocessor.ts";

// The OTLP/HTTP retry policy (what otlp-exporter-base's RetryingTransport does; that class is
// not part of the package's public API): 429, 502, 503, 504 and network errors are retried with
// exponential back-off and jitter, or after the server's Retry-After, within the export timeout.
const MAX_ATTEMPTS = 6;
const INITIAL_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 5_000;
const BACKOFF_MULTIPLIER = 1.5;
const JITTER = 0.2;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/**
 * An `IExporterTransport` over Bun's `fetch`: one POST per attempt, retried as above, the answer
 * read to the end (so the connection is reused). `shutdown()` aborts what is in flight and the
 * waits between attempts, so a process never hangs on a collector that is down.
 *
 * @example
 * const transport = new FetchTransport("http://localhost:4318/v1/traces", { "x-scope-orgid": "7" });
 */
export class FetchTransport implements IExporterTransport {
  private readonly headers: Record<string, string>;
  private readonly closing = new AbortController();

  constructor(
    private readonly url: string,
    headers: Record<string, string>,
  ) {
    this.headers = { ...headers, "content-type": "application/x-protobuf" };
  }

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const deadline = Date.now() + timeoutMillis;
    let backoff = INITIAL_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      const response = await this.attempt(data, deadline - Date.now());
      if (response.status !== "retryable" || attempt === MAX_ATTEMPTS) return response;
      const wait = response.retryInMillis ?? Math.min(backoff * (1 + (Math.random() * 2 - 1) * JITTER), MAX_BACKOFF_MS);
      backoff *= BACKOFF_MULTIPLIER;
      if (wait > deadline - Date.now() || !(await this.sleep(wait))) return response;
    }
  }

  shutdown(): void {
    this.closing.abort(new Error("exporter shut down"));
  }

  private async attempt(body: Uint8Array, timeoutMs: number): Promise<ExportResponse> {
    if (this.closing.signal.aborted) return { status: "failure", error: new Error("exporter shut down") };
    try {
      const response = await fetch(this.url, {
        method: "POST",
        headers: this.headers,
        // The encoder's bodies sit on plain ArrayBuffers (the interface types any Uint8Array).
        body: body as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(Math.max(1, timeoutMs))]),
      });
      const data = new Uint8Array(await response.arrayBuffer());
      if (response.ok) return data.length > 0 ? { status: "success", data } : { status: "success" };
      const error = new Error(`collector answered ${response.status}`);
      if (!RETRYABLE_STATUS.has(response.status)) return { status: "failure", error };
      return { status: "retryable", retryInMillis: retryAfterMs(response.headers.get("retry-after")), error };
    } catch (error) {
      const aborted = this.closing.signal.aborted || (error as Error).name === "TimeoutError" || (error as Error).name === "AbortError";
      // A refused or reset connection is worth another try; a timeout or shutdown is not.
      if (!aborted) return { status: "retryable", error: new Error(`collector unreachable: ${(error as Error).message}`) };
      return { status: "failure", error: new Error(this.closing.signal.aborted ? "exporter shut down" : "export timed out") };
    }
  }

  /** Waits `ms` unless the transport shuts down first (or already has); true when the wait ran out. */
  private sleep(ms: number): Promise<boolean> {
    // Unreferenced: a retry never keeps a finished process alive.
    return delay(ms, true, { signal: this.closing.signal, ref: false }).catch(() => false);
  }
}

/** `Retry-After` in ms (seconds or an HTTP date), undefined when absent or unreadable. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The batches are encoded already (span by span, as they end): the request is the batch's body. */
const batchSerializer: ISerializer<SpanBatch, IExportTraceServiceResponse> = {
  serializeRequest: (batch) => batch.body,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

/**
 * The OTLP/HTTP protobuf exporter the recorder sends with: `OTLPExporterBase` and the network
 * export delegate of `@opentelemetry/otlp-exporter-base` (concurrency limit, response handling,
 * partial-success logging), over {@link FetchTransport}, for batches the recorder encoded itself.
 *
 * @example
 * const exporter = new OtlpHttpExporter(config.telemetry);
 */
export class OtlpHttpExporter extends OTLPExporterBase<SpanBatch> implements BatchExporter {
  private readonly transport: FetchTransport;

  /** Throws when the endpoint is not a URL or the export timeout is not positive. */
  constructor(config: Pick<TelemetryConfig, "endpoint" | "headers" | "batch">) {
    const url = new URL(config.endpoint).href;
    const options = mergeOtlpSharedConfigurationWithDefaults({ timeoutMillis: config.batch.exportTimeoutMs }, {}, getSharedConfigurationDefaults());
    const transport = new FetchTransport(url, config.headers);
    const metrics = new ExporterMetrics<SpanBatch>({
      componentType: "otlp_http_span_exporter",
      metricsHelper: { name: "span", countItems: (batch) => batch.spans },
      url,
      meterProvider: undefined,
      responseAttributesFromError: () => ({}),
    });
    super(createOtlpNetworkExportDelegate(options, batchSerializer, metrics, transport));
    this.transport = transport;
  }

  /** Aborts requests in flight and pending retries first, so shutting down never waits on a collector. */
  override shutdown(): Promise<void> {
    this.transport.shutdown();
    return super.shutdown();
  }
}
