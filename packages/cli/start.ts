import { once } from "node:events";
import { isReclaimEnabled, type HookDefinition } from "@reclaim/core";
import { createExporter, startTelemetry } from "@reclaim/exporter";
import { collectDefaultMetrics, Registry } from "prom-client";
import { buildRunners } from "./build_runners.ts";
import { loadConfig } from "./config.ts";
import { dataDirOf, VERSION, type Io } from "./io.ts";
import { commandLogger } from "./logger.ts";

/** Flags of `reclaim start`. */
export interface StartFlags {
  config?: string;
  /** Every pass reports what it would remove and touches nothing (as `dryRun: true`). */
  dryRun?: boolean;
  /** Overrides `log.level` (and `RECLAIM_LOG_LEVEL`). */
  logLevel?: string;
}

/**
 * `reclaim start`: every enabled hook plus the exporter, until SIGINT/SIGTERM (or `io.signal`). Resolves with the
 * exit code after a clean stop: runners stopped (passes aborted and awaited), hooks closed, server closed.
 *
 * @example
 * ```ts
 * process.exitCode = await start({ config: "reclaim.config.json" }, definitions, processIo());
 * ```
 */
export async function start(flags: StartFlags, definitions: readonly HookDefinition[], io: Io): Promise<number> {
  const dataDir = dataDirOf(io);
  const env = flags.logLevel ? { ...io.env, RECLAIM_LOG_LEVEL: flags.logLevel } : io.env;
  const loaded = await loadConfig(flags.config, { definitions, env, cwd: io.cwd, dataDir });
  const config = { ...loaded.config, dryRun: loaded.config.dryRun || flags.dryRun === true };
  const logger = commandLogger(config.log.level, io.logDestination ?? 1);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (loaded.path) process.chdir(loaded.baseDir);
  const enabled = loaded.instances.filter((instance) => instance.enabled);
  const built = await buildRunners(enabled, { registry, logger, env: io.env, dataDir, dryRun: config.dryRun });
  const telemetry = await startTelemetry(io.env, { version: VERSION });

  const exporter = createExporter({
    registry,
    runners: built.runners,
    rpc: built.rpc,
    logger,
    info: { version: VERSION, config: loaded.path ?? "embedded default", dataDir, enabled: isReclaimEnabled(io.env) },
    ...(config.exporter.token ? { token: config.exporter.token } : {}),
  });
  if (config.exporter.enabled) {
    try {
      await exporter.listen({ host: config.exporter.host, port: config.exporter.port });
    } catch (err) {
      await built.close();
      await telemetry?.shutdown();
      io.stderr(`reclaim: cannot serve the exporter on ${config.exporter.host}:${config.exporter.port}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const address = config.exporter.enabled ? exporter.server.address() : null;
  logger.info(
    {
      config: loaded.path ?? "embedded default",
      hooks: enabled.map((instance) => (instance.name === instance.definition.name ? instance.name : `${instance.name} (${instance.definition.name})`)),
      locks: Object.fromEntries(enabled.filter((instance) => instance.lock !== "none").map((instance) => [instance.name, instance.lock])),
      exporter: address && typeof address === "object" ? `http://${address.address}:${address.port}` : "off",
      dryRun: config.dryRun,
      enabled: isReclaimEnabled(io.env),
    },
    "reclaim started",
  );
  for (const runner of built.runners) runner.start();
  void built.atStart();

  const keepAlive = setInterval(() => undefined, 1 << 30);
  const stopSignal = await waitForStop(io.signal);
  logger.info({ signal: stopSignal }, "reclaim stopping");
  clearInterval(keepAlive);
  await Promise.all(built.runners.map((runner) => runner.stop()));
  await built.close();
  await exporter.close();
  await telemetry?.shutdown();
  logger.info("reclaim stopped");
  return 0;
}

async function waitForStop(signal: AbortSignal | undefined): Promise<string> {
  const controller = new AbortController();
  const waits: Promise<string>[] = [
    once(process, "SIGINT", { signal: controller.signal }).then(() => "SIGINT"),
    once(process, "SIGTERM", { signal: controller.signal }).then(() => "SIGTERM"),
  ];
  if (signal) waits.push(signal.aborted ? Promise.resolve("abort") : once(signal, "abort").then(() => "abort"));
  const which = await Promise.race(waits.map((wait) => wait.catch(() => "")));
  controller.abort();
  return which;
}
