import { createRunner, isReclaimEnabled, type HookDefinition, type Logger, type Runner } from "@reclaim/core";
import type { Registry } from "prom-client";
import { asUsageError, type ReclaimConfig } from "./config.ts";
import { UsageError } from "./usage_error.ts";

/** What {@link buildRunners} needs besides the config. */
export interface BuildContext {
  definitions: readonly HookDefinition[];
  registry: Registry;
  logger: Logger;
  env: Readonly<Record<string, string | undefined>>;
  dataDir: string;
}

/** Runners built from a config, plus the JSON-RPC methods their definitions serve. */
export interface BuiltRunners {
  runners: Runner[];
  /** Calls each built hook's `atStart` (startup audit and the like); failures are logged, never thrown. */
  atStart(): Promise<void>;
  rpc: Record<string, () => unknown>;
  /** Closes what the hooks opened (clients, database handles). */
  close(): Promise<void>;
}

/**
 * Builds a hook and its runner for every enabled hook in the config (or only `only`), in config order. All hooks
 * are created before any pass runs, so a bad option (exit 2) never leaves work half-started.
 *
 * @example
 * ```ts
 * const { runners, close } = await buildRunners(config, { definitions, registry, logger, env, dataDir });
 * for (const runner of runners) runner.start();
 * ```
 */
export async function buildRunners(config: ReclaimConfig, context: BuildContext, only?: string): Promise<BuiltRunners> {
  const runners: Runner[] = [];
  const rpc: Record<string, () => unknown> = {};
  const startups: Array<() => unknown> = [];
  const hookEnv = { env: context.env, dataDir: context.dataDir, logger: context.logger, registry: context.registry };
  try {
    for (const definition of context.definitions) {
      const block = config.hooks[definition.name];
      if (!block || (only === undefined && !block.enabled) || (only !== undefined && only !== definition.name)) continue;
      const { enabled: _enabled, interval, initialDelay, jitter, ...options } = block;
      let hook;
      try {
        hook = await definition.create(options, hookEnv);
      } catch (err) {
        throw asUsageError(err, definition.name);
      }
      const runner = createRunner(hook, { interval, initialDelay, jitter, registry: context.registry, logger: context.logger, dryRun: config.dryRun, enabled: isReclaimEnabled(context.env) });
      runners.push(runner);
      if (definition.atStart) startups.push(() => definition.atStart!(options, hookEnv));
      for (const [method, handler] of Object.entries(definition.rpc ?? {})) rpc[method] = () => handler(runner);
    }
  } catch (err) {
    await closeHooks(runners);
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
  return { runners, rpc, atStart, close: () => closeHooks(runners) };
}

async function closeHooks(runners: readonly Runner[]): Promise<void> {
  await Promise.allSettled(runners.map(async (runner) => runner.hook.close?.()));
}

/** Finds a definition by hook name or throws a usage error listing the known ones. */
export function findDefinition(definitions: readonly HookDefinition[], name: string): HookDefinition {
  const definition = definitions.find((candidate) => candidate.name === name);
  if (!definition) throw new UsageError(`unknown hook '${name}': known hooks are ${definitions.map((d) => d.name).join(", ")}`);
  return definition;
}
