import { resolve } from "node:path";
import { defineHook, UsageError, type HookDefinition } from "@reclaim/core";
import cliProgress from "cli-progress";
import { cleanWorktrees, createWorktreesHook, WORKTREES_HOOK, type WorktreesProgress } from "./clean_worktrees.ts";
import { formatWorktreesReport } from "./format_report.ts";
import { worktreesOptions } from "./worktrees_options.ts";

/** Monthly, as the seed runs its script: 30 days between passes, the first one hour after start. */
export const WORKTREES_SCHEDULE: { interval: number; initialDelay: number } = { interval: 30 * 86_400_000, initialDelay: 3_600_000 };

/**
 * How the `reclaim` command runs the worktrees hook (a local hook: no store, lock `none`), and its verb
 * `reclaim worktrees --repo DIR [--days 30] [--dry-run] [--json]`.
 *
 * @example
 * ```json
 * { "hooks": { "worktrees": { "repos": ["/src/app"], "days": 30, "keep": ["user-decks"] } } }
 * ```
 */
export const worktreesDefinition: HookDefinition<typeof worktreesOptions> = defineHook({
  name: WORKTREES_HOOK,
  summary: "give back node_modules/.next/dist/.turbo/target of idle git worktrees (never a tracked file)",
  options: worktreesOptions,
  schedule: WORKTREES_SCHEDULE,
  // The command has changed into the config file's folder: relative repositories are resolved against it here.
  create: (options, env) => createWorktreesHook({ ...options, repos: options.repos.map((repo) => resolve(repo)), name: env.instance, registry: env.registry }),
  commands(program, cli) {
    program
      .command("worktrees")
      .description("give back the build output of idle git worktrees of a repository (never a tracked file)")
      .option("--repo <dir>", "a repository (any folder inside it); repeat for several", (value: string, all: string[]) => [...all, value], [] as string[])
      .option("--days <n>", "idle after this many days without a commit, a reflog entry or a modified file", "30")
      .option("--artifact <name>", "an artifact folder name (repeat; default node_modules .next dist .turbo target)", (value: string, all: string[]) => [...all, value], [] as string[])
      .option("--keep <name>", "a worktree never touched: folder name, branch or path (repeat)", (value: string, all: string[]) => [...all, value], [] as string[])
      .option("--dry-run", "report what would be removed; touch nothing")
      .option("--json", "print the report as JSON")
      .action(async (flags: { repo: string[]; days: string; artifact: string[]; keep: string[]; dryRun?: boolean; json?: boolean }) => {
        if (flags.repo.length === 0) throw new UsageError("--repo is required: reclaim worktrees --repo DIR [--days 30] [--dry-run] [--json]");
        if (!/^\d+$/.test(flags.days)) throw new UsageError(`--days must be a whole number of days: current value is ${JSON.stringify(flags.days)}`);
        const parsed = worktreesOptions.safeParse({
          repos: flags.repo.map((r) => resolve(cli.cwd, r)),
          days: Number(flags.days),
          ...(flags.artifact.length > 0 ? { artifacts: flags.artifact } : {}),
          keep: flags.keep,
        });
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw new UsageError(`'${issue.path.join(".")}' ${issue.message}`);
        }
        const dryRun = flags.dryRun === true || cli.env.RECLAIM_DRY_RUN === "true";
        const bar = !flags.json && process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr, format: "{phase} [{bar}] {value}/{total}", hideCursor: true }, cliProgress.Presets.shades_classic) : null;
        let phase: WorktreesProgress["phase"] | null = null;
        const onProgress = (p: WorktreesProgress) => {
          if (!bar) return;
          if (p.phase !== phase) {
            if (phase !== null) bar.stop();
            phase = p.phase;
            bar.start(p.total, p.done, { phase: p.phase === "scan" ? "scanning worktrees" : "deleting artifacts" });
          } else bar.setTotal(p.total);
          bar.update(p.done);
        };
        let report;
        try {
          report = await cleanWorktrees({ ...parsed.data, dryRun, cwd: cli.cwd, onProgress });
        } finally {
          bar?.stop();
        }
        cli.stdout(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatWorktreesReport(report, { dryRun }));
        cli.exit(report.repos.some((r) => r.error !== undefined) ? 1 : 0);
      });
  },
});
