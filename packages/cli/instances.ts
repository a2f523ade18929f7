import { redactUrl, UsageError, type HookDefinition, type PostgresTarget, type RedisTarget, type StoreKind } from "@reclaim/core";
import { COMMON_HOOK_FIELDS, isStoreUrl, type LockKind, type ReclaimConfig } from "./config.ts";

/** One configured hook instance: its name, type, own options, schedule, lock and connections. */
export interface Instance {
  /** The key under `hooks`: the `hook` label, status entry, RPC target and lock key. */
  name: string;
  definition: HookDefinition;
  /** The hook's own options (validated by its schema, defaults filled in). */
  options: Record<string, unknown>;
  enabled: boolean;
  interval: number;
  initialDelay: number;
  jitter: number;
  lock: LockKind;
  lockTtl?: number;
  /** Set when the hook works on Redis or locks there. */
  redis?: RedisTarget;
  /** Set when the hook works on Postgres or locks there. */
  postgres?: PostgresTarget;
}

const URL_SOURCES: Record<StoreKind, { variable: "REDIS_URL" | "DATABASE_URL"; label: string }> = {
  redis: { variable: "REDIS_URL", label: "Redis" },
  postgres: { variable: "DATABASE_URL", label: "Postgres" },
};

/**
 * Turns the validated `hooks` blocks into instances, in config order: the hook's own options apart from the
 * command's fields, the lock (default: a lock in the first store the hook works on, `none` for local hooks), and the
 * URL of every store the instance needs (block > top-level block > `REDIS_URL` / `DATABASE_URL`). A store that is
 * needed but has no URL, or an environment URL that is not one, is a {@link UsageError} naming the block. Nothing is
 * connected to.
 *
 * @example
 * ```ts
 * const instances = resolveInstances(config, definitions, process.env, "reclaim.config.json");
 * instances.map((i) => `${i.name} (${i.definition.name}, lock ${i.lock})`);
 * ```
 */
export function resolveInstances(
  config: ReclaimConfig,
  definitions: readonly HookDefinition[],
  env: Readonly<Record<string, string | undefined>>,
  where: string,
): Instance[] {
  const problems: string[] = [];
  const instances: Instance[] = [];
  for (const [name, block] of Object.entries(config.hooks)) {
    const definition = definitions.find((candidate) => candidate.name === (block.type ?? name))!;
    const options = Object.fromEntries(Object.entries(block).filter(([key]) => !(COMMON_HOOK_FIELDS as readonly string[]).includes(key)));
    const lock: LockKind = block.lock ?? definition.stores?.[0] ?? "none";
    const instance: Instance = { name, definition, options, enabled: block.enabled, interval: block.interval, initialDelay: block.initialDelay, jitter: block.jitter, lock };
    if (block.lockTtl !== undefined) instance.lockTtl = block.lockTtl;
    const needed = new Set<StoreKind>(definition.stores ?? []);
    if (lock !== "none") needed.add(lock);
    for (const kind of needed) {
      const url = block[kind]?.url ?? config[kind].url ?? env[URL_SOURCES[kind].variable]?.trim();
      if (!url) {
        const why = definition.stores?.includes(kind) ? `works on ${URL_SOURCES[kind].label}` : `locks in ${URL_SOURCES[kind].label}`;
        problems.push(`'hooks.${name}' ${why} but has no URL for it: set "${kind}": { "url": ... } in the block or at the top level, or ${URL_SOURCES[kind].variable}`);
        continue;
      }
      if (!isStoreUrl(kind, url)) {
        problems.push(`'${URL_SOURCES[kind].variable}' must be a ${kind === "redis" ? "redis:// or rediss://" : "postgres://"} URL: current value is ${JSON.stringify(redactUrl(url))}`);
        continue;
      }
      if (kind === "redis") instance.redis = { url, cluster: block.redis?.cluster ?? (block.redis?.url ? false : config.redis.cluster) };
      else instance.postgres = { url };
    }
    instances.push(instance);
  }
  if (problems.length > 0) throw new UsageError(`${where} is invalid: ${problems.join("; ")}`);
  return instances;
}

/**
 * Finds an instance by name, or throws a usage error listing the configured ones.
 *
 * @example
 * ```ts
 * const instance = findInstance(loaded.instances, "logs-db", "reclaim.config.json");
 * ```
 */
export function findInstance(instances: readonly Instance[], name: string, where: string): Instance {
  const instance = instances.find((candidate) => candidate.name === name);
  if (instance) return instance;
  const configured = instances.length > 0 ? `configured: ${instances.map((i) => i.name).join(", ")}` : "none is configured";
  throw new UsageError(`no hook named '${name}' in ${where} (${configured}): add a "hooks": { "${name}": { ... } } block`);
}
