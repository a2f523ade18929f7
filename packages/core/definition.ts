import type { Registry } from "prom-client";
import type { z } from "zod";
import type { Hook } from "./hook.ts";
import type { Logger } from "./logger.ts";
import type { Runner } from "./runner.ts";

/** What the `reclaim` command hands to a hook definition when it builds hooks from a config file. */
export interface HookEnvironment {
  /** Process environment (for `REDIS_URL`, `DATABASE_URL`, `DOCKER_HOST`, ...). */
  env: Readonly<Record<string, string | undefined>>;
  /** The embedded default's data folder (`./.data` unless `RECLAIM_DATA_DIR` says otherwise), absolute. */
  dataDir: string;
  /** Parent logger. */
  logger: Logger;
  /** The registry the exporter serves. */
  registry: Registry;
}

/**
 * How the `reclaim` command configures one hook: its options schema (the `hooks.<name>` block of
 * `reclaim.config.json`, without the schedule fields the command adds), its default cadence, what the embedded
 * default runs, and how to build the hook. Each hook package exports one.
 *
 * @example
 * ```ts
 * export const noopDefinition = defineHook({
 *   name: "noop",
 *   summary: "does nothing",
 *   options: z.strictObject({}),
 *   schedule: { interval: 3_600_000, initialDelay: 60_000 },
 *   create: () => ({ name: "noop", run: async () => ({ removed: 0, reclaimedBytes: 0 }) }),
 * });
 * ```
 */
export interface HookDefinition<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  /** One line for `reclaim --help` and the status page. */
  readonly summary: string;
  /** zod schema of the hook's options in the config file; defaults are filled in by it. */
  readonly options: S;
  /** Default cadence in ms; a config file may override `interval`, `initialDelay`, `jitter`. */
  readonly schedule: { interval: number; initialDelay: number };
  /** Options used when `reclaim start` runs without a config file; `undefined` leaves the hook off. */
  embeddedDefault?(env: Pick<HookEnvironment, "env" | "dataDir">): z.input<S> | undefined;
  /** Work done once when `reclaim start` starts the hook (e.g. the disk audit); not awaited before serving. */
  atStart?(options: z.output<S>, env: HookEnvironment): unknown;
  /** Builds the hook from validated options. May throw an option error (exit code 2). */
  create(options: z.output<S>, env: HookEnvironment): Hook | Promise<Hook>;
  /** JSON-RPC 2.0 methods served on the exporter's `POST /rpc`, answered from the hook's runner. */
  readonly rpc?: Readonly<Record<string, (runner: Runner) => unknown>>;
}

/**
 * Identity function that gives a hook definition its types.
 *
 * @example
 * ```ts
 * export const diskDefinition = defineHook({ name: "disk", ... });
 * ```
 */
export function defineHook<S extends z.ZodType>(definition: HookDefinition<S>): HookDefinition<S> {
  return definition;
}
