/**
 * @module
 * The `reclaim` command as a library: `main(argv, io)` resolves with the exit code, so it can be embedded or tested
 * in-process; `loadConfig`/`configSchema` read `reclaim.config.json`.
 *
 * @example
 * ```ts
 * import { main, processIo } from "@reclaim/cli";
 * process.exitCode = await main(["config", "check", "-c", "reclaim.config.json"], processIo());
 * ```
 */
export * from "./build_runners.ts";
export * from "./config.ts";
export * from "./config_schema.ts";
export * from "./env_overrides.ts";
export * from "./hooks.ts";
export * from "./instances.ts";
export * from "./io.ts";
export * from "./program.ts";
export * from "./show_status.ts";
