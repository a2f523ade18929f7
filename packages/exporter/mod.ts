/**
 * @module
 * reclaim's exporter: a fastify app serving `/metrics`, `/healthz`, `/status`, a status page, a token-guarded
 * `POST /hooks/:name/run` and JSON-RPC 2.0 on `POST /rpc`; plus OpenTelemetry SDK setup for OTLP/HTTP.
 *
 * @example
 * ```ts
 * import { createExporter, startTelemetry } from "@reclaim/exporter";
 * const telemetry = startTelemetry(process.env);
 * const app = createExporter({ registry, runners, token: process.env.RECLAIM_TOKEN });
 * await app.listen({ host: "127.0.0.1", port: 9464 });
 * ```
 */
export * from "./server.ts";
export * from "./telemetry.ts";
export { RpcError, type RpcMethods } from "./_rpc.ts";
