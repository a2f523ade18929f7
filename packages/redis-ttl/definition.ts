import { createConnections, defineHook, UsageError, type CommandContext, type HookDefinition, type RedisClient } from "@reclaim/core";
import { auditRedis, formatRedisAudit } from "./audit.ts";
import { REDIS_TTL_HOOK, redisTtlOptions } from "./options.ts";
import { createRedisTtlHook } from "./redis_ttl_hook.ts";

/**
 * How the `reclaim` command runs the redis-ttl hook: the `hooks.redis-ttl` block (or any instance with
 * `"type": "redis-ttl"`) is {@link redisTtlOptions}; a pass every 5 minutes, first after 60 s; it works on Redis (the
 * block's `redis.url`, else the top-level one, else `REDIS_URL`), which is also where its leader lock lives by
 * default. No embedded default: which keys may get a TTL or be deleted is always written in a config. Adds
 * `reclaim redis audit`.
 *
 * @example
 * ```json
 * { "hooks": { "redis-ttl": { "policies": [{ "match": "worker:heartbeat:*", "ttl": "5m" }],
 *                             "streams": [{ "match": "events:*", "maxLen": 10000 }] } } }
 * ```
 */
export const redisTtlDefinition: HookDefinition<typeof redisTtlOptions> = defineHook({
  name: REDIS_TTL_HOOK,
  summary: "TTLs by key pattern, stream trimming, dangling index members and orphaned keys in Redis, in bounded batches",
  options: redisTtlOptions,
  schedule: { interval: 300_000, initialDelay: 60_000 },
  stores: ["redis"],
  rpc: {
    /** The instance's runner status: last pass (with its report), totals, maxmemory-policy, last complete cycle. */
    "redis.ttl_status": (runner) => runner.status(),
  },
  create(options, env) {
    return createRedisTtlHook({ ...options, redis: () => env.redis(), name: env.instance, registry: env.registry });
  },
  commands(program, cli) {
    program
      .command("redis")
      .description("Redis helpers (redis-ttl)")
      .command("audit")
      .description("what fills a Redis: keys, memory and keys without a TTL by inferred key pattern, the largest keys, the TTL distribution (SCAN + a sample: safe on production)")
      .option("--url <url>", "the Redis to audit (default: the Redis of the config's redis-ttl instance, else REDIS_URL)")
      .option("--cluster", "connect to --url as a Redis Cluster")
      .option("-c, --config <file>", "config file whose redis-ttl instance names the Redis (default: ./reclaim.config.json)")
      .option("--instance <name>", "which redis-ttl instance of the config (default: the first)")
      .option("--match <pattern>", "only keys matching this Redis glob", "*")
      .option("--top <n>", "patterns and largest keys listed", "10")
      .option("--sample-size <n>", "keys looked at closely (TYPE, PTTL, MEMORY USAGE): rate = n / DBSIZE", "100000")
      .option("--sample-rate <rate>", "sample rate in (0, 1], instead of --sample-size")
      .option("--json", "print JSON instead of tables")
      .action(async (flags: AuditFlags) => {
        const top = wholeNumber("--top", flags.top);
        const sampleSize = wholeNumber("--sample-size", flags.sampleSize);
        const sampleRate = flags.sampleRate === undefined ? undefined : Number(flags.sampleRate);
        if (sampleRate !== undefined && !(sampleRate > 0 && sampleRate <= 1)) {
          throw new UsageError(`--sample-rate must be a number in (0, 1]: current value is ${JSON.stringify(flags.sampleRate)}`);
        }
        const connections = createConnections();
        try {
          const client = await auditTarget(flags, cli, connections);
          const audit = await auditRedis(client, { match: flags.match, top, ...(sampleRate !== undefined ? { sampleRate } : { sampleSize }) });
          cli.stdout(flags.json ? `${JSON.stringify(audit, null, 2)}\n` : `${formatRedisAudit(audit)}\n`);
        } finally {
          await connections.close();
        }
      });
  },
});

interface AuditFlags {
  url?: string;
  cluster?: boolean;
  config?: string;
  instance?: string;
  match: string;
  top: string;
  sampleSize: string;
  sampleRate?: string;
  json?: boolean;
}

/** `--url`, else the config's redis-ttl instance (by `--instance`, else the first), else `REDIS_URL`. */
async function auditTarget(flags: AuditFlags, cli: CommandContext, connections: ReturnType<typeof createConnections>): Promise<RedisClient> {
  if (flags.url) return connections.redis({ url: flags.url, cluster: flags.cluster === true });
  const instances = await cli.instances(REDIS_TTL_HOOK, flags.config);
  if (flags.instance !== undefined) {
    const chosen = instances.find((i) => i.name === flags.instance);
    if (!chosen) {
      throw new UsageError(`no redis-ttl instance '${flags.instance}' in the config: ${instances.length > 0 ? `instances are ${instances.map((i) => i.name).join(", ")}` : "it has none"}`);
    }
    return chosen.env.redis();
  }
  if (instances[0]) return instances[0].env.redis();
  const url = cli.env.REDIS_URL?.trim();
  if (url) return connections.redis({ url, cluster: flags.cluster === true });
  throw new UsageError("no Redis to audit: give --url, a config with a redis-ttl hook, or REDIS_URL");
}

function wholeNumber(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`${flag} must be a whole number of at least 1: current value is ${JSON.stringify(value)}`);
  return number;
}
