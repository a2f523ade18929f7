import { isUserError, type HookDefinition } from "@reclaim/core";
import { Command, CommanderError, Option } from "commander";
import { configCheck } from "./config_check.ts";
import { definitions as builtInDefinitions } from "./hooks.ts";
import { VERSION, type Io } from "./io.ts";
import { runHook } from "./run_hook.ts";
import { start } from "./start.ts";
import { UsageError } from "./usage_error.ts";
import { registerExtraCommands } from "./extra_commands.ts";

/**
 * The `reclaim` command, in-process: parses `argv` (without `node` and the script), runs the verb and resolves
 * with the exit code — 0 done, 1 the pass or the daemon failed, 2 bad usage or bad config (one line on stderr,
 * nothing touched).
 *
 * @example
 * ```ts
 * process.exitCode = await main(["run", "event-log", "-c", "reclaim.config.json"], processIo());
 * ```
 */
export async function main(argv: readonly string[], io: Io, definitions: readonly HookDefinition[] = builtInDefinitions): Promise<number> {
  let code = 0;
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
    .action(async (flags: { config?: string }) => {
      code = await start(flags, definitions, io);
    });

  program
    .command("run")
    .description("run one pass of one hook and print its report as JSON")
    .argument("<hook>", `hook name: ${definitions.map((d) => d.name).join(", ")}`)
    .addOption(configOption())
    .option("--dry-run", "report what would be removed, touch nothing")
    .action(async (hook: string, flags: { config?: string; dryRun?: boolean }) => {
      code = await runHook(hook, flags, definitions, io);
    });

  program
    .command("config")
    .description("work with the config file")
    .command("check")
    .description("validate the config and print the effective config (defaults filled in)")
    .addOption(configOption())
    .action(async (flags: { config?: string }) => {
      code = await configCheck(flags, definitions, io);
    });

  registerExtraCommands(program, io, (result) => {
    code = result;
  });

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
  }
}
