import { createConnections, isUserError, silentLogger, UsageError, type CommandContext, type HookDefinition } from "@reclaim/core";
import { Command, CommanderError, Option } from "commander";
import { Registry } from "prom-client";
import { hookEnvironment } from "./build_runners.ts";
import { configCheck } from "./config_check.ts";
import { configSchemaCommand } from "./config_schema.ts";
import { loadConfig, LOG_LEVELS } from "./config.ts";
import { definitions as builtInDefinitions } from "./hooks.ts";
import { listHooks } from "./list_hooks.ts";
import { dataDirOf, VERSION, type Io } from "./io.ts";
import { runHook } from "./run_hook.ts";
import { start } from "./start.ts";
import { showStatus } from "./show_status.ts";

/**
 * The `reclaim` command, in-process: parses `argv` (without `node` and the script), runs the verb and resolves
 * with the exit code — 0 done, 1 the pass or the daemon failed, 2 bad usage or bad config (one line on stderr,
 * nothing touched). Hook packages add their own verbs through their definitions' `commands`.
 *
 * @example
 * ```ts
 * process.exitCode = await main(["run", "event-log", "-c", "reclaim.config.json"], processIo());
 * ```
 */
export async function main(argv: readonly string[], io: Io, definitions: readonly HookDefinition[] = builtInDefinitions): Promise<number> {
  let code = 0;
  const setCode = (result: number) => {
    code = result;
  };
  const program = new Command("reclaim")
    .description("Housekeeping hooks for long-lived services: event logs, disks, Docker images, SQLite, Redis, Postgres.")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(text) });
  const configOption = () => new Option("-c, --config <file>", "config file (default: ./reclaim.config.json if present, else the embedded default)");

  program
    .command("start")
    .description("run every enabled hook and the exporter until SIGINT/SIGTERM")
    .addOption(configOption())
    .option("--dry-run", "every pass reports what it would remove and touches nothing")
    .addOption(new Option("--log-level <level>", "log level (overrides log.level and RECLAIM_LOG_LEVEL)").choices([...LOG_LEVELS]))
    .action(async (flags: { config?: string; dryRun?: boolean; logLevel?: string }) => setCode(await start(flags, definitions, io)));

  program
    .command("run")
    .description("run one pass of one hook and print its report as JSON")
    .argument("<hook>", `a hook type (${definitions.map((d) => d.name).join(", ")}) or an instance name from the config`)
    .addOption(configOption())
    .option("--dry-run", "report what would be removed, touch nothing")
    .action(async (hook: string, flags: { config?: string; dryRun?: boolean }) => setCode(await runHook(hook, flags, definitions, io)));

  const config = program.command("config").description("work with the config file");
  config
    .command("check")
    .description("validate the config and print the effective config (defaults filled in); never connects to a store")
    .addOption(configOption())
    .action(async (flags: { config?: string }) => setCode(await configCheck(flags, definitions, io)));
  config
    .command("schema")
    .description('print the config\'s JSON Schema (point "$schema" at a saved copy for completion in editors)')
    .action(() => setCode(configSchemaCommand(definitions, io)));

  program
    .command("hooks")
    .description("list the hook types, what each does, and the instances the config defines")
    .addOption(configOption())
    .option("--json", "print JSON instead of a table")
    .action(async (flags: { config?: string; json?: boolean }) => setCode(await listHooks(flags, definitions, io)));

  program
    .command("status")
    .description("show a running daemon's hooks (its /status) as a table")
    .option("--url <url>", "the daemon's exporter (default: http://RECLAIM_HOST:RECLAIM_PORT, else http://127.0.0.1:9464)")
    .option("--json", "print the /status JSON as it is")
    .action(async (flags: { url?: string; json?: boolean }) => setCode(await showStatus(flags, io)));

  const connections = createConnections();
  const context: CommandContext = {
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    cwd: io.cwd,
    exit: setCode,
    async instances(type, file) {
      const dataDir = dataDirOf(io);
      const loaded = await loadConfig(file, { definitions, env: io.env, cwd: io.cwd, dataDir });
      const shared = { registry: new Registry(), logger: silentLogger, env: io.env, dataDir };
      return loaded.instances
        .filter((instance) => instance.definition.name === type)
        .map((instance) => ({ name: instance.name, options: instance.options, env: hookEnvironment(instance, shared, connections) }));
    },
  };
  for (const definition of definitions) definition.commands?.(program, context);

  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      if (err.code === "commander.executeSubCommandAsync") return 1;
      return 2;
    }
    if (err instanceof UsageError || isUserError(err)) {
      io.stderr(`reclaim: ${(err as Error).message}\n`);
      return 2;
    }
    io.stderr(`reclaim: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  } finally {
    await connections.close();
  }
}
