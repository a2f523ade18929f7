import { resolve } from "node:path";
import { defineHook, UsageError, type CommandContext, type HookDefinition } from "@reclaim/core";
import type { Pool } from "pg";
import { formatBackfill, formatTable, formatVerify, progressReporter } from "./_report_output.ts";
import { backfillCdnUrls, checkColumns } from "./backfill.ts";
import { CDN_URLS_HOOK, cdnUrlsOptions, type CdnUrlsOptions } from "./options.ts";
import { createCdnUrlsHook } from "./rewrite_hook.ts";
import { scanSources } from "./scan_sources.ts";
import { checkStoredUrls, verifyCdnUrls } from "./verify.ts";

interface BackfillFlags {
  config?: string;
  dryRun?: boolean;
  verify?: boolean;
  checkUrls?: string;
  sample: string;
  hook?: string;
}

async function configured(cli: CommandContext, file: string | undefined, only: string | undefined): Promise<Array<{ name: string; options: CdnUrlsOptions; pool: () => Promise<Pool> }>> {
  const instances = (await cli.instances(CDN_URLS_HOOK, file)).filter((instance) => only === undefined || instance.name === only);
  if (instances.length === 0) {
    throw new UsageError(only !== undefined ? `no cdn-urls instance named ${JSON.stringify(only)} in the config` : `the config has no "cdn-urls" hook: add hooks.cdn-urls with hosts and columns`);
  }
  return instances.map((instance) => ({ name: instance.name, options: instance.options as CdnUrlsOptions, pool: () => instance.env.postgres() }));
}

async function backfillVerb(cli: CommandContext, flags: BackfillFlags): Promise<void> {
  const sample = Number(flags.sample);
  if (!Number.isInteger(sample) || sample < 0) throw new UsageError(`--sample must be a whole number: current value is ${JSON.stringify(flags.sample)}`);
  if (flags.checkUrls !== undefined && !/^https?:\/\/[^/]/i.test(flags.checkUrls)) throw new UsageError(`--check-urls must be an http(s) URL: current value is ${JSON.stringify(flags.checkUrls)}`);
  const instances = await configured(cli, flags.config, flags.hook);
  // every column of every instance is checked before anything is written
  for (const instance of instances) await checkColumns(await instance.pool(), instance.options);
  let code = 0;
  for (const instance of instances) {
    const pool = await instance.pool();
    if (instances.length > 1) cli.stdout(`${instance.name}:\n`);
    if (flags.verify || flags.checkUrls !== undefined) {
      if (flags.verify) {
        const columns = await verifyCdnUrls(pool, instance.options);
        cli.stdout(formatVerify(columns));
        const left = columns.reduce((sum, column) => sum + column.rows, 0);
        cli.stdout(left === 0 ? "verify: no value holds an old host\n" : `verify: ${left} row(s) still hold an old host\n`);
        if (left > 0) code = 1;
      }
      if (flags.checkUrls !== undefined) {
        const check = await checkStoredUrls(pool, instance.options, flags.checkUrls, { sample: sample || 20 });
        for (const problem of check.failed) cli.stdout(`  ${problem.status}  ${problem.url}\n`);
        cli.stdout(`check-urls: ${check.checked - check.failed.length} of ${check.checked} sampled path(s) answer 200 on ${flags.checkUrls}\n`);
        if (check.failed.length > 0 || check.checked === 0) code = 1;
      }
      continue;
    }
    const tty = process.stderr.isTTY === true && cli.env.RECLAIM_PROGRESS !== "log";
    const progress = progressReporter({ tty, stream: process.stderr, log: cli.stderr });
    try {
      const report = await backfillCdnUrls(pool, instance.options, { job: instance.name, dryRun: flags.dryRun ?? false, sample: sample || 5, onProgress: progress.update });
      progress.stop();
      cli.stdout(formatBackfill(report));
    } catch (err) {
      progress.stop();
      throw err;
    }
  }
  cli.exit(code);
}

/**
 * How the `reclaim` command runs the cdn-urls hook (every 10 min after 60 s, lock in Postgres by default) and its
 * verbs: `reclaim backfill cdn-urls` and `reclaim cdn-urls scan`. Not part of the embedded default.
 *
 * @example
 * ```json
 * { "hooks": { "cdn-urls": { "hosts": ["cdn.example.ai"], "columns": [{ "table": "flat_file", "column": "url" }] } } }
 * ```
 */
export const cdnUrlsDefinition: HookDefinition<typeof cdnUrlsOptions> = defineHook({
  name: CDN_URLS_HOOK,
  summary: "strip hard-coded CDN hosts from URLs stored in Postgres (rows added or changed since the last pass)",
  options: cdnUrlsOptions,
  schedule: { interval: 600_000, initialDelay: 60_000 },
  stores: ["postgres"],
  create: (options, env) => createCdnUrlsHook({ ...options, name: env.instance, registry: env.registry, postgres: () => env.postgres() }),
  commands(program, cli) {
    const backfill = program.commands.find((command) => command.name() === "backfill") ?? program.command("backfill").description("batched data backfills");
    backfill
      .command("cdn-urls")
      .description("strip the CDN hosts from the configured columns: keyset batches, resumable, --dry-run, --verify")
      .option("-c, --config <file>", "config file with a cdn-urls hook (default: ./reclaim.config.json)")
      .option("--dry-run", "count and sample before → after per column; change nothing")
      .option("--verify", "count per column the values still holding old hosts; exit 1 unless zero")
      .option("--check-urls <base>", "HEAD a sample of stored paths joined to BASE; exit 1 when one does not answer 200")
      .option("--sample <n>", "samples for --dry-run (default 5) and --check-urls (default 20)", "0")
      .option("--hook <name>", "only this cdn-urls instance of the config")
      .action((flags: BackfillFlags) => backfillVerb(cli, flags));
    program
      .command("cdn-urls")
      .description("cdn-urls helpers")
      .command("scan")
      .description("list files and lines that hard-code the CDN hosts (respects .gitignore); exit 1 when any is found")
      .argument("<dir>", "folder to scan")
      .requiredOption("--host <host...>", "CDN host(s) to look for")
      .action(async (dir: string, flags: { host: string[] }) => {
        const hits = await scanSources(resolve(cli.cwd, dir), flags.host).catch((err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT" || err.code === "ENOTDIR") throw new UsageError(`cannot scan ${dir}: no such folder`);
          throw err;
        });
        for (const hit of hits) cli.stdout(`${hit.path}:${hit.line}: ${hit.text}\n`);
        const files = new Set(hits.map((hit) => hit.path)).size;
        cli.stdout(hits.length === 0 ? `no hard-coded ${flags.host.join(", ")} found\n` : `${hits.length} line(s) in ${files} file(s) hard-code ${flags.host.join(", ")}\n`);
        cli.exit(hits.length === 0 ? 0 : 1);
      });
  },
});
