import { resolve } from "node:path";
import { defineHook, UsageError, type HookDefinition, type HookEnvironment } from "@reclaim/core";
import { InvalidArgumentError } from "commander";
import { createDiskHook } from "./disk_hook.ts";
import { diskOptionsSchema, type DiskOptions } from "./disk_options.ts";
import { auditDir, formatAudit, logDiskAudit, type AuditResult } from "./audit.ts";

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
  create: (options, env) => createDiskHook({ ...options, name: env.instance, registry: env.registry }),
  atStart: (options, env) => startupDiskAudit(options, env),
  commands(program, cli) {
    program
      .command("audit")
      .description("show what fills a folder: total, per top-level folder, largest files")
      .argument("<dir>", "folder to audit")
      .option("--top <n>", "how many of the largest files to list", positiveInt, 10)
      .option("--json", "print JSON instead of a table")
      .action(async (dir: string, flags: { top: number; json?: boolean }) => {
        let result;
        try {
          result = await auditDir(resolve(cli.cwd, dir), { top: flags.top });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT" || code === "ENOTDIR") throw new UsageError(`cannot audit ${dir}: ${code === "ENOENT" ? "no such folder" : "not a folder"}`);
          throw err;
        }
        cli.stdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatAudit(result)}\n`);
      });
  },
});

function positiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("must be a whole number of at least 1.");
  return number;
}

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
export async function startupDiskAudit(options: DiskOptions, env: Pick<HookEnvironment, "logger" | "instance">): Promise<AuditResult | undefined> {
  if (!options.audit.atStart) return undefined;
  const args = options.threads === undefined ? { top: options.audit.top } : { top: options.audit.top, threads: options.threads };
  return logDiskAudit(options.root, env.logger.child({ hook: env.instance }), args);
}
