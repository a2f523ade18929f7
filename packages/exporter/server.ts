import { timingSafeEqual } from "node:crypto";
import type { Runner } from "@reclaim/core";
import { silentLogger, type Logger } from "@reclaim/core";
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { handleRpc, type RpcMethods } from "./_rpc.ts";
import { STATUS_PAGE } from "./_status_page.ts";

/** Options of {@link createExporter}. */
export interface ExporterOptions {
  /** The registry served on `/metrics` (the one the runners and hooks record to). */
  registry: Registry;
  /** The runners whose status is served and which `POST /hooks/:name/run` can trigger. */
  runners: readonly Runner[];
  /** Bearer token for state-changing endpoints. Without one, `POST /hooks/:name/run` is off (404). @default undefined */
  token?: string;
  /** JSON-RPC 2.0 methods served on `POST /rpc` (read-only views such as `system.compactor_status`). @default {} */
  rpc?: RpcMethods;
  /** Logger for request errors. @default silent */
  logger?: Logger;
  /** Extra top-level fields for `/status` (version, config path, ...). @default {} */
  info?: Record<string, unknown>;
}

/**
 * Builds (does not start) the exporter's fastify app:
 * `GET /metrics`, `GET /healthz`, `GET /status`, `GET /` (status page), `POST /hooks/:name/run` (bearer token)
 * and `POST /rpc` (JSON-RPC 2.0).
 *
 * @example
 * ```ts
 * const app = createExporter({ registry, runners, token: process.env.RECLAIM_TOKEN });
 * await app.listen({ host: "127.0.0.1", port: 9464 });
 * ```
 */
export function createExporter(options: ExporterOptions): FastifyInstance {
  const { registry, runners, token, rpc = {}, info = {} } = options;
  const log = (options.logger ?? silentLogger).child({ component: "exporter" });
  const byName = new Map(runners.map((runner) => [runner.hook.name, runner]));
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (request.url === "/rpc" && err.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
      return reply.send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
    }
    const statusCode = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (statusCode >= 500) log.error({ err }, "request failed");
    void reply.code(statusCode).send({ error: statusCode >= 500 ? "internal error" : err.message });
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });

  app.get("/healthz", async () => ({ status: "ok", uptimeSeconds: Math.round(process.uptime()) }));

  app.get("/status", async () => ({
    ...info,
    generatedAt: new Date().toISOString(),
    hooks: runners.map((runner) => runner.status()),
  }));

  app.get("/", async (_request, reply) => reply.type("text/html; charset=utf-8").send(STATUS_PAGE));

  app.post<{ Params: { name: string } }>("/hooks/:name/run", async (request, reply) => {
    if (!token) return reply.code(404).send({ error: "the run endpoint is off: no token is configured (exporter.token / RECLAIM_TOKEN)" });
    if (!bearerMatches(request.headers.authorization, token)) {
      return reply.code(401).header("www-authenticate", 'Bearer realm="reclaim"').send({ error: "a valid bearer token is required" });
    }
    const runner = byName.get(request.params.name);
    if (!runner) return reply.code(404).send({ error: `no hook named ${JSON.stringify(request.params.name)}`, hooks: [...byName.keys()] });
    log.info({ hook: runner.hook.name }, "pass requested over HTTP");
    return runner.runOnce();
  });

  app.post("/rpc", async (request) => handleRpc(request.body, rpc));

  return app;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
