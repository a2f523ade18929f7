import {
  createConnections,
  createRunner,
  isReclaimEnabled,
  postgresLock,
  redisLock,
  UsageError,
  type Connections,
  type HookEnvironment,
  type LeaderLock,
  type Logger,
  type Runner,
} from "@reclaim/core";
import { RpcError } from "@reclaim/exporter";
import type { Registry } from "prom-client";
import { asUsageError } from "./config.ts";
import type { Instance } from "./instances.ts";

/** What {@link buildRunners} needs besides the instances. */
export interface BuildContext {
  registry: Registry;
  logger: Logger;
  env: Readonly<Record<string, string | undefined>>;
  dataDir: string;
  dryRun: boolean;
  /** Shared clients; closed by the returned `close()` when {@link buildRunners} opened them. @default new ones */
  connections?: Connections;
}

/** Runners built from a config, plus the JSON-RPC methods their definitions serve. */
export interface BuiltRunners {
  runners: Runner[];
  /** Calls each built hook's `atStart` (startup audit and the like); failures are logged, never thrown. */
  atStart(): Promise<void>;
  rpc: Record<string, (params: unknown) => unknown>;
  /** Closes what the hooks opened (clients, database handles) and the shared connections. */
  close(): Promise<void>;
}

/**
 * Builds a hook and its runner for every given instance, in order. All hooks are created before any pass runs, so
 * a bad option (exit 2) never leaves work half-started. Redis and Postgres clients are opened on a hook's first use
 * (one per URL, shared); each runner takes the instance's leader lock (`reclaim:lock:<name>`) around its passes.
 *
 * @example
 * ```ts
 * const { runners, close } = await buildRunners(loaded.instances.filter((i) => i.enabled), { registry, logger, env, dataDir, dryRun });
 * for (const runner of runners) runner.start();
 * ```
 */
export async function buildRunners(instances: readonly Instance[], context: BuildContext): Promise<BuiltRunners> {
  const connections = context.connections ?? createConnections({ logger: context.logger });
  const built: Array<{ instance: Instance; runner: Runner }> = [];
  const startups: Array<() => unknown> = [];
  try {
    for (const instance of instances) {
      const env = hookEnvironment(instance, context, connections);
      let hook;
      try {
        hook = await instance.definition.create(instance.options, env);
      } catch (err) {
        throw asUsageError(err, instance.name);
      }
      if (hook.name !== instance.name) throw new Error(`the ${instance.definition.name} definition named its hook '${hook.name}' instead of '${instance.name}' (env.instance)`);
      const lock = leaderLock(instance, connections);
      const runner = createRunner(hook, {
        interval: instance.interval,
        initialDelay: instance.initialDelay,
        jitter: instance.jitter,
        registry: context.registry,
        logger: context.logger,
        dryRun: context.dryRun,
        enabled: isReclaimEnabled(context.env),
        ...(lock ? { lock } : {}),
        ...(instance.lockTtl !== undefined ? { lockTtl: instance.lockTtl } : {}),
      });
      built.push({ instance, runner });
      const { atStart } = instance.definition;
      if (atStart) startups.push(() => atStart(instance.options, env));
    }
  } catch (err) {
    await closeHooks(built.map((b) => b.runner));
    if (!context.connections) await connections.close();
    throw err;
  }
  const atStart = async () => {
    await Promise.all(
      startups.map(async (startup) => {
        try {
          await startup();
        } catch (err) {
          context.logger.warn({ err }, "a hook's start-up work failed");
        }
      }),
    );
  };
  const runners = built.map((b) => b.runner);
  return {
    runners,
    rpc: rpcMethods(built),
    atStart,
    async close() {
      await closeHooks(runners);
      if (!context.connections) await connections.close();
    },
  };
}

/** The environment one instance's definition builds its hook with: its name and its stores. */
export function hookEnvironment(instance: Instance, context: Omit<BuildContext, "dryRun" | "connections">, connections: Connections): HookEnvironment {
  const missing = (kind: string) => new UsageError(`hooks.${instance.name}: no ${kind} is configured for this hook`);
  return {
    instance: instance.name,
    env: context.env,
    dataDir: context.dataDir,
    logger: context.logger,
    registry: context.registry,
    redis: () => (instance.redis ? connections.redis(instance.redis) : Promise.reject(missing("Redis"))),
    postgres: () => (instance.postgres ? connections.postgres(instance.postgres) : Promise.reject(missing("Postgres"))),
  };
}

/** The instance's leader lock, on a client opened at the first pass (a store that is down fails that pass). */
function leaderLock(instance: Instance, connections: Connections): LeaderLock | undefined {
  const { redis, postgres } = instance;
  if (instance.lock === "redis" && redis) {
    return { acquire: async (key, ttl, onLost) => redisLock(await connections.redis(redis)).acquire(key, ttl, onLost) };
  }
  if (instance.lock === "postgres" && postgres) {
    return { acquire: async (key, ttl, onLost) => postgresLock(await connections.postgres(postgres)).acquire(key, ttl, onLost) };
  }
  return undefined;
}

/**
 * The definitions' JSON-RPC methods. Each answers for one instance of its type: the one named in `params.hook`, or
 * the only one configured; with several and none named, it answers "invalid params" listing them.
 */
function rpcMethods(built: ReadonlyArray<{ instance: Instance; runner: Runner }>): Record<string, (params: unknown) => unknown> {
  const methods: Record<string, (params: unknown) => unknown> = {};
  for (const { instance } of built) {
    for (const [method, handler] of Object.entries(instance.definition.rpc ?? {})) {
      if (methods[method]) continue;
      const candidates = built.filter((b) => b.instance.definition === instance.definition);
      methods[method] = (params) => {
        const wanted = (params as { hook?: unknown } | null | undefined)?.hook;
        const names = candidates.map((c) => c.instance.name);
        const target = typeof wanted === "string" ? candidates.find((c) => c.instance.name === wanted) : candidates.length === 1 ? candidates[0] : undefined;
        if (!target) {
          const why = typeof wanted === "string" ? `no ${instance.definition.name} instance named ${JSON.stringify(wanted)}` : `${names.length} ${instance.definition.name} instances: name one in params.hook`;
          throw new RpcError(-32602, `Invalid params: ${why}`, { instances: names });
        }
        return handler(target.runner);
      };
    }
  }
  return methods;
}

async function closeHooks(runners: readonly Runner[]): Promise<void> {
  await Promise.allSettled(runners.map(async (runner) => runner.hook.close?.()));
}
