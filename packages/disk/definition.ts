import { defineHook, type HookDefinition, type HookEnvironment } from "@reclaim/core";
import { createDiskHook } from "./disk_hook.ts";
import { diskOptionsSchema, type DiskOptions } from "./disk_options.ts";
import { logDiskAudit, type AuditResult } from "./audit.ts";

/**
 * The `disk` hook for the `reclaim` command: age sweep, pressure sweep and reference pruning of a media volume,
 * every hour after 60 s. The embedded default looks after `./.data` and treats the remote as enabled when
 * `RECLAIM_REMOTE_BASE_URL` is set.
 *
 * @example
 * ```ts
 * const options = diskDefinition.options.parse({ root: "/app/.data" });
 * const hook = await diskDefinition.create(options, env);
 * ```
 */
export const diskDefinition: HookDefinition<typeof diskOptionsSchema> = defineHook({
  name: "disk",
  summary: "media age sweep, disk-pressure sweep (statfs watermarks) and reference pruning",
  options: diskOptionsSchema,
  schedule: { interval: 3_600_000, initialDelay: 60_000 },
  embeddedDefault: (env) => ({ root: env.dataDir, remote: { enabled: Boolean(env.env.RECLAIM_REMOTE_BASE_URL) } }),
  create: (options, env) => createDiskHook({ ...options, registry: env.registry }),
  atStart: (options, env) => startupDiskAudit(options, env),
});

/**
 * The startup audit the daemon runs for the `disk` hook: when `audit.atStart` is true, audits `options.root` and
 * logs one `disk-audit` line on `env.logger`. Resolves to `undefined` when switched off or when the audit failed
 * (logged as a warning). `reclaim start` calls it once through the definition's `atStart`, after serving.
 *
 * @example
 * ```ts
 * const options = diskDefinition.options.parse(config.hooks.disk);
 * void startupDiskAudit(options, env);
 * ```
 */
export async function startupDiskAudit(options: DiskOptions, env: Pick<HookEnvironment, "logger">): Promise<AuditResult | undefined> {
  if (!options.audit.atStart) return undefined;
  const args = options.threads === undefined ? { top: options.audit.top } : { top: options.audit.top, threads: options.threads };
  return logDiskAudit(options.root, env.logger.child({ hook: "disk" }), args);
}
