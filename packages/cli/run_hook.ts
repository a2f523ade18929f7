import type { HookDefinition } from "@reclaim/core";
import { Registry } from "prom-client";
import { buildRunners } from "./build_runners.ts";
import { loadConfig } from "./config.ts";
import { findInstance } from "./instances.ts";
import { dataDirOf, type Io } from "./io.ts";
import { commandLogger } from "./logger.ts";

/**
 * `reclaim run HOOK`: one pass of one hook instance (a type or an instance name from the config), its result as JSON on stdout (logs on stderr). Exit 0 when the pass
 * succeeded or was skipped (kill switch), 1 when it failed.
 *
 * @example
 * ```ts
 * const code = await runHook("event-log", { config: "reclaim.config.json", dryRun: true }, definitions, io);
 * ```
 */
export async function runHook(name: string, flags: { config?: string; dryRun?: boolean }, definitions: readonly HookDefinition[], io: Io): Promise<number> {
  const dataDir = dataDirOf(io);
  const loaded = await loadConfig(flags.config, { definitions, env: io.env, cwd: io.cwd, dataDir });
  const config = { ...loaded.config, dryRun: loaded.config.dryRun || flags.dryRun === true };
  const instance = findInstance(loaded.instances, name, loaded.path ?? "the embedded default (no config file)");
  const logger = commandLogger(config.log.level, io.logDestination ?? 2);
  if (loaded.path) process.chdir(loaded.baseDir);
  const built = await buildRunners([instance], { registry: new Registry(), logger, env: io.env, dataDir, dryRun: config.dryRun });
  try {
    const [runner] = built.runners;
    const result = await runner!.runOnce();
    io.stdout(`${JSON.stringify({ hook: name, dryRun: config.dryRun, ...result }, null, 2)}\n`);
    return result.outcome === "failure" || result.outcome === "aborted" ? 1 : 0;
  } finally {
    await built.close();
  }
}
