import { defineHook, parseDuration, UsageError, type CommandContext, type HookDefinition, type HookEnvironment } from "@reclaim/core";
import { InvalidArgumentError } from "commander";
import { readTime } from "./_record.ts";
import { getArchived, listArchived } from "./archive_reader.ts";
import { createRedisOffloadHook, REDIS_OFFLOAD_HOOK } from "./offload.ts";
import { redisOffloadOptionsSchema, type RedisOffloadOptions } from "./options.ts";

/**
 * How the `reclaim` command runs the offload: once a day (the seed's nightly job; set `initialDelay` to pick the
 * hour), on the instance's Redis and Postgres, with its leader lock in Redis by default; never in the embedded
 * default (it needs sources). Verbs: `reclaim archive get KEY` and `reclaim archive list --kind K --since T`.
 *
 * @example
 * ```json
 * { "hooks": { "redis-offload": { "sources": [
 *   { "match": "worker:completion:*", "kind": "completed", "timeField": "completed_at", "hotFor": "7d", "archiveFor": "90d" }
 * ] } } }
 * ```
 */
export const redisOffloadDefinition: HookDefinition<typeof redisOffloadOptionsSchema> = defineHook({
  name: REDIS_OFFLOAD_HOOK,
  summary: "archive finished Redis records (hashes, JSON strings) to a partitioned Postgres table, then compare-and-delete them",
  options: redisOffloadOptionsSchema,
  schedule: { interval: 86_400_000, initialDelay: 60_000 },
  stores: ["redis", "postgres"],
  create: (options, env) =>
    createRedisOffloadHook({ ...options, name: env.instance, registry: env.registry, redis: () => env.redis(), postgres: () => env.postgres() }),
  commands(program, cli) {
    const archive = program.command("archive").description("read records the redis-offload hook archived to Postgres");
    archive
      .command("get")
      .description("print every archived version of a Redis key (newest first), one JSON object per line; exit 1 when none")
      .argument("<key>", "the Redis key")
      .option("-c, --config <file>", "config file (default: ./reclaim.config.json)")
      .option("--hook <name>", "the redis-offload instance, when the config has several")
      .action(async (key: string, flags: { config?: string; hook?: string }) => {
        const { options, env } = await pickInstance(cli, flags);
        const records = await getArchived(await env.postgres(), key, options);
        for (const record of records) cli.stdout(`${JSON.stringify(record)}\n`);
        if (records.length === 0) {
          cli.stderr(`reclaim: ${key} is not in the archive\n`);
          cli.exit(1);
        }
      });
    archive
      .command("list")
      .description("print archived records of a kind whose time is at or after --since, oldest first, one JSON object per line")
      .requiredOption("--kind <kind>", "the records' kind (a source's kind)")
      .requiredOption("--since <time>", 'ISO 8601 time, epoch seconds/ms, or a duration ago ("7d")', parseWhen)
      .option("--until <time>", "upper bound, same forms as --since", parseWhen)
      .option("--limit <n>", "at most this many records", positiveInt, 1000)
      .option("-c, --config <file>", "config file (default: ./reclaim.config.json)")
      .option("--hook <name>", "the redis-offload instance, when the config has several")
      .action(async (flags: { kind: string; since: When; until?: When; limit: number; config?: string; hook?: string }) => {
        const { options, env } = await pickInstance(cli, flags);
        const now = Date.now();
        const records = await listArchived(await env.postgres(), {
          ...options,
          kind: flags.kind,
          since: flags.since(now),
          limit: flags.limit,
          ...(flags.until ? { until: flags.until(now) } : {}),
        });
        for (const record of records) cli.stdout(`${JSON.stringify(record)}\n`);
      });
  },
});

type When = (now: number) => number;

function parseWhen(value: string): When {
  const time = readTime(value);
  if (time !== undefined) return () => time;
  try {
    const ago = parseDuration(value);
    return (now) => now - ago;
  } catch {
    throw new InvalidArgumentError('must be an ISO 8601 time, epoch seconds or ms, or a duration such as "7d".');
  }
}

function positiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("must be a whole number of at least 1.");
  return number;
}

async function pickInstance(cli: CommandContext, flags: { config?: string; hook?: string }): Promise<{ options: RedisOffloadOptions; env: HookEnvironment }> {
  const instances = await cli.instances(REDIS_OFFLOAD_HOOK, flags.config);
  if (instances.length === 0) throw new UsageError("the config has no redis-offload instance: add a \"hooks\": { \"redis-offload\": { \"sources\": [...] } } block");
  const chosen = flags.hook === undefined ? instances : instances.filter((instance) => instance.name === flags.hook);
  if (chosen.length !== 1) {
    const names = instances.map((instance) => instance.name).join(", ");
    throw new UsageError(flags.hook === undefined ? `the config has ${instances.length} redis-offload instances (${names}): pick one with --hook` : `no redis-offload instance named '${flags.hook}' (configured: ${names})`);
  }
  const [instance] = chosen as [(typeof chosen)[number]];
  return { options: instance.options as RedisOffloadOptions, env: instance.env };
}
