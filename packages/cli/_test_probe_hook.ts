// Test-only hook types that work on a shared store: each pass writes "start" and "end" events (with its pid) into the
// store it works on and holds it for `holdMs` in between, so tests can read, in the store's own order, whether passes
// of two replicas ever overlapped.
import { setTimeout as sleep } from "node:timers/promises";
import { defineHook, duration, type HookDefinition } from "@reclaim/core";
import { z } from "zod";

const probeOptions = z.strictObject({
  /** Redis list key, or Postgres table name, the events go to. */
  target: z.string().regex(/^[a-z0-9_:-]+$/),
  holdMs: duration().prefault(200),
});

/** One event of a probe pass, as stored. */
export interface ProbeEvent {
  pid: number;
  event: "start" | "end";
}

/** A hook type on Redis: events are RPUSHed to the list `target`; its lock defaults to Redis. */
export const probeRedisDefinition: HookDefinition<typeof probeOptions> = defineHook({
  name: "probe-redis",
  summary: "test probe on Redis",
  options: probeOptions,
  schedule: { interval: 100, initialDelay: 0 },
  stores: ["redis"],
  create: (options, env) => ({
    name: env.instance,
    type: "probe-redis",
    async run(ctx) {
      const redis = await env.redis();
      await redis.rpush(options.target, JSON.stringify({ pid: process.pid, event: "start" }));
      await sleep(options.holdMs, undefined, { signal: ctx.signal });
      await redis.rpush(options.target, JSON.stringify({ pid: process.pid, event: "end" }));
      return { removed: 0, reclaimedBytes: 0 };
    },
  }),
});

/** A hook type on Postgres: events are inserted into the table `target` (id order); its lock defaults to Postgres. */
export const probePostgresDefinition: HookDefinition<typeof probeOptions> = defineHook({
  name: "probe-postgres",
  summary: "test probe on Postgres",
  options: probeOptions,
  schedule: { interval: 100, initialDelay: 0 },
  stores: ["postgres"],
  create: (options, env) => ({
    name: env.instance,
    type: "probe-postgres",
    async run(ctx) {
      const pg = await env.postgres();
      const insert = `INSERT INTO ${options.target} (pid, event) VALUES ($1, $2)`;
      await pg.query(insert, [process.pid, "start"]);
      await sleep(options.holdMs, undefined, { signal: ctx.signal });
      await pg.query(insert, [process.pid, "end"]);
      return { removed: 0, reclaimedBytes: 0 };
    },
  }),
});

export const probeDefinitions: readonly HookDefinition[] = [probeRedisDefinition, probePostgresDefinition] as readonly HookDefinition[];

/**
 * Checks a sequence of probe events, in the store's order, for passes that overlapped: every "start" must follow
 * an "end" of the same process's previous pass, except a pass of a process that was killed (listed in `killed`).
 * Returns the problems found (none: the passes never intersected).
 */
export function overlaps(events: readonly ProbeEvent[], killed: ReadonlySet<number> = new Set()): string[] {
  const problems: string[] = [];
  let open: ProbeEvent | undefined;
  events.forEach((event, index) => {
    if (event.event === "start") {
      if (open && !killed.has(open.pid)) problems.push(`#${index}: pid ${event.pid} started while pid ${open.pid}'s pass was running`);
      open = event;
    } else {
      if (!open || open.pid !== event.pid) problems.push(`#${index}: pid ${event.pid} ended a pass it had not started`);
      open = undefined;
    }
  });
  return problems;
}
