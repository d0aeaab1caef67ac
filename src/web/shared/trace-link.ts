/**
 * Links a trace id to Grafana Explore (`GRAFANA_URL`, optionally on the Tempo data source
 * `GRAFANA_TEMPO_UID`), in Explore's `panes` URL format (Grafana 10 and later).
 */

/**
 * The Explore URL that opens one trace, or undefined when no Grafana is configured.
 *
 * @example
 * traceLink({ grafanaUrl: "https://grafana.example.com", grafanaTempoUid: "tempo" }, "4bf92f3577b34da6a3ce929d0e0e4736")
 * // "https://grafana.example.com/explore?schemaVersion=1&orgId=1&panes=%7B%22trace%22…"
 */
export function traceLink(settings: { grafanaUrl?: string; grafanaTempoUid?: string }, traceId: string): string | undefined {
  if (!settings.grafanaUrl || !/^[0-9a-f]{32}$/i.test(traceId)) return undefined;
  const uid = settings.grafanaTempoUid;
  // Without a uid Grafana opens its default data source with the trace id as the query.
  const datasource = uid ? { type: "tempo", uid } : undefined;
  const pane = {
    ...(uid ? { datasource: uid } : {}),
    queries: [{ refId: "A", ...(datasource ? { datasource } : {}), queryType: "traceql", query: traceId.toLowerCase() }],
    range: { from: "now-1h", to: "now" },
  };
  const params = new URLSearchParams({ schemaVersion: "1", orgId: "1", panes: JSON.stringify({ trace: pane }) });
  return `${settings.grafanaUrl}/explore?${params.toString()}`;
}
