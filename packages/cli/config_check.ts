import type { HookDefinition } from "@reclaim/core";
import { loadConfig } from "./config.ts";
import { dataDirOf, type Io } from "./io.ts";

/**
 * `reclaim config check`: validates the config and prints the effective config (defaults filled in, environment
 * overrides applied, durations in ms, sizes in bytes, the token redacted). Errors exit 2.
 *
 * @example
 * ```ts
 * await configCheck({ config: "reclaim.config.json" }, definitions, io); // prints JSON, returns 0
 * ```
 */
export async function configCheck(flags: { config?: string }, definitions: readonly HookDefinition[], io: Io): Promise<number> {
  const loaded = await loadConfig(flags.config, { definitions, env: io.env, cwd: io.cwd, dataDir: dataDirOf(io) });
  const config = structuredClone(loaded.config);
  if (config.exporter.token) config.exporter.token = "<redacted>";
  io.stdout(`${JSON.stringify({ source: loaded.path ?? "embedded default", config }, null, 2)}\n`);
  return 0;
}
