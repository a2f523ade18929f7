import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";

/** A started OpenTelemetry SDK; `shutdown()` flushes pending spans. */
export interface Telemetry {
  shutdown(): Promise<void>;
}

/**
 * Starts `@opentelemetry/sdk-node` exporting spans over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; returns `null` otherwise, leaving the no-op tracer in place.
 * Hook packages only use `@opentelemetry/api`, so their spans go wherever this sends them.
 *
 * @example
 * ```ts
 * const telemetry = startTelemetry(process.env, { version: "0.1.0" });
 * process.on("SIGTERM", async () => { await telemetry?.shutdown(); });
 * ```
 */
export function startTelemetry(env: Readonly<Record<string, string | undefined>>, options: { serviceName?: string; version?: string } = {}): Telemetry | null {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, "");
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (base ? `${base}/v1/traces` : undefined);
  if (!url) return null;
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
