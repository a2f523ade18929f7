/** A started OpenTelemetry SDK; `shutdown()` flushes pending spans. */
export interface Telemetry {
  shutdown(): Promise<void>;
}

/**
 * Starts `@opentelemetry/sdk-node` exporting spans over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; resolves to `null` otherwise, leaving the no-op tracer in place.
 * The SDK is loaded only then, so a daemon without tracing starts without it. Hook packages only use
 * `@opentelemetry/api`, so their spans go wherever this sends them.
 *
 * @example
 * ```ts
 * const telemetry = await startTelemetry(process.env, { version: "0.1.0" });
 * process.on("SIGTERM", async () => { await telemetry?.shutdown(); });
 * ```
 */
export async function startTelemetry(env: Readonly<Record<string, string | undefined>>, options: { serviceName?: string; version?: string } = {}): Promise<Telemetry | null> {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, "");
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (base ? `${base}/v1/traces` : undefined);
  if (!url) return null;
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { NodeSDK }, { BatchSpanProcessor }, { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION }] = await Promise.all([
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/semantic-conventions"),
  ]);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? options.serviceName ?? "reclaim",
      [ATTR_SERVICE_VERSION]: options.version ?? "0.0.0",
    }),
    autoDetectResources: false,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1_000 })],
    instrumentations: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
