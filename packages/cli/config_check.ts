import { redactUrl, type HookDefinition } from "@reclaim/core";
import { loadConfig } from "./config.ts";
import { dataDirOf, type Io } from "./io.ts";

/**
 * `reclaim config check`: validates the config and prints the effective config (defaults filled in, environment
 * overrides applied, durations in ms, sizes in bytes, the token and passwords redacted) and each instance's type,
 * lock and stores. It never connects to a store. Errors exit 2.
 *
 * @example
 * ```ts
 * await configCheck({ config: "reclaim.config.json" }, definitions, io); // prints JSON, returns 0
 * ```
 */
export async function configCheck(flags: { config?: string }, definitions: readonly HookDefinition[], io: Io): Promise<number> {
  const loaded = await loadConfig(flags.config, { definitions, env: io.env, cwd: io.cwd, dataDir: dataDirOf(io) });
  const config = structuredClone(loaded.config);
  if (config.exporter.token) config.exporter.token = "<redacted>";
  for (const store of [config.redis, config.postgres, ...Object.values(config.hooks).flatMap((block) => [block.redis, block.postgres])]) {
    if (store?.url) store.url = redactUrl(store.url);
  }
  const instances = loaded.instances.map((instance) => ({
    name: instance.name,
    type: instance.definition.name,
    enabled: instance.enabled,
    lock: instance.lock,
    ...(instance.redis ? { redis: { ...instance.redis, url: redactUrl(instance.redis.url) } } : {}),
    ...(instance.postgres ? { postgres: { url: redactUrl(instance.postgres.url) } } : {}),
  }));
  io.stdout(`${JSON.stringify({ source: loaded.path ?? "embedded default", config, instances }, null, 2)}\n`);
  return 0;
}
