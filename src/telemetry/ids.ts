/**
 * Trace and span ids. Math.random is enough for ids (the OpenTelemetry SDK's own generator uses
 * it too) and is far cheaper than a crypto call per span.
 */
function hex8(): string {
  return ((Math.random() * 0x1_0000_0000) >>> 0).toString(16).padStart(8, "0");
}

/** A random non-zero 16-byte trace id as 32 lowercase hex characters. */
export function newTraceId(): string {
  const id = hex8() + hex8() + hex8() + hex8();
  return id === "00000000000000000000000000000000" ? newTraceId() : id;
}

/** A random non-zero 8-byte span id as 16 lowercase hex characters. */
export function newSpanId(): string {
  const id = hex8() + hex8();
  return id === "0000000000000000" ? newSpanId() : id;
}
