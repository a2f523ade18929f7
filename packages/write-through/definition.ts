import { defineHook, type HookDefinition } from "@reclaim/core";
import { createWriteThroughHook } from "./write_through_hook.ts";
import { writeThroughOptionsSchema } from "./write_through_options.ts";

/**
 * The `write-through` hook for the `reclaim` command: consumes the publish journal every 5 minutes (after 30 s)
 * and deletes local copies whose remote copy is verified. The embedded default is on only when
 * `RECLAIM_REMOTE_BASE_URL` is set: it then looks after `./.data` with that base URL.
 *
 * @example
 * ```ts
 * const options = writeThroughDefinition.options.parse({ root: "/app/.data", remote: { enabled: true } });
 * const hook = await writeThroughDefinition.create(options, env);
 * ```
 */
export const writeThroughDefinition: HookDefinition<typeof writeThroughOptionsSchema> = defineHook({
  name: "write-through",
  summary: "delete local copies of uploaded files once their remote copy is verified (publish journal)",
  options: writeThroughOptionsSchema,
  schedule: { interval: 300_000, initialDelay: 30_000 },
  embeddedDefault: (env) => {
    const baseUrl = env.env.RECLAIM_REMOTE_BASE_URL?.trim();
    if (!baseUrl) return undefined;
    return { root: env.dataDir, remote: { enabled: true, baseUrl } };
  },
  create: (options, env) => createWriteThroughHook({ ...options, name: env.instance, registry: env.registry }),
});
