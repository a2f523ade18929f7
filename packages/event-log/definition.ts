import { join } from "node:path";
import { defineHook, type HookDefinition } from "@reclaim/core";
import { createEventLogHook } from "./event_log_hook.ts";
import { eventLogOptions } from "./event_log_options.ts";

/**
 * How the `reclaim` command configures the event-log hook: the `hooks.event-log` block of `reclaim.config.json`
 * (`path`, `maxBytes` "50MiB", `keepLines` 10000, `archive` { enabled false, keep 5 }, `drainTimeout` "10s"), a pass
 * every hour after 60 s, and, without a config file, `<dataDir>/events.jsonl`.
 *
 * @example
 * ```ts
 * const options = eventLogDefinition.options.parse({ path: "/app/.data/events.jsonl" });
 * const hook = await eventLogDefinition.create(options, env);
 * ```
 */
export const eventLogDefinition: HookDefinition<typeof eventLogOptions> = defineHook({
  name: "event-log",
  summary: "trims an append-only JSONL event log to its last lines, atomically, without losing appended lines",
  options: eventLogOptions,
  schedule: { interval: 3_600_000, initialDelay: 60_000 },
  embeddedDefault: (env) => ({ path: join(env.dataDir, "events.jsonl") }),
  create: (options, env) => createEventLogHook({ ...options, name: env.instance, registry: env.registry }),
});
