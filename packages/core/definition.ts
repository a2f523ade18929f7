import type { Command } from "commander";
import type { Pool } from "pg";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { RedisClient } from "./connections.ts";
import type { Hook } from "./hook.ts";
import type { Logger } from "./logger.ts";
import type { Runner } from "./runner.ts";

/** A shared store a hook works on. The first one a definition lists is where its leader lock lives by default. */
export type StoreKind = "redis" | "postgres";

/** What the `reclaim` command hands to a hook definition when it builds one instance from a config file. */
export interface HookEnvironment {
  /** The instance name (the key under `hooks`): the `hook` label of every metric, the status entry, the lock key. */
  instance: string;
  /** Process environment. Connections come from {@link redis} and {@link postgres}, never from here. */
  env: Readonly<Record<string, string | undefined>>;
  /** The embedded default's data folder (`./.data` unless `RECLAIM_DATA_DIR` says otherwise), absolute. */
  dataDir: string;
  /** Parent logger. */
  logger: Logger;
  /** The registry the exporter serves. */
  registry: Registry;
  /**
   * This instance's Redis (the block's `redis.url`, else the top-level `redis.url`, else `REDIS_URL`), shared by
   * every hook on the same URL, opened on first use, closed by the command. Call it inside a pass, not at creation:
   * a store that is down rejects with a one-line error and fails only that pass.
   */
  redis(): Promise<RedisClient>;
  /** This instance's Postgres pool (the block's `postgres.url`, else the top-level one, else `DATABASE_URL`). */
  postgres(): Promise<Pool>;
}

/** What a hook package's verbs get from the `reclaim` command. */
export interface CommandContext {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Sets the verb's exit code (0 unless set; throw a `UsageError` for exit 2). */
  exit(code: number): void;
  /**
   * Reads the config (`file`, else `./reclaim.config.json`, else the embedded default) and returns each configured
   * instance of `type` with its validated options and environment. Connections opened through it are closed when
   * the verb ends.
   */
  instances(type: string, file?: string): Promise<Array<{ name: string; options: unknown; env: HookEnvironment }>>;
}

/**
 * How the `reclaim` command configures one hook type: its options schema (the block of `reclaim.config.json`,
 * without the fields the command adds: `type`, `enabled`, `interval`, `initialDelay`, `jitter`, `lock`, `lockTtl`,
 * `redis`, `postgres`), its default cadence, the shared stores it works on, what the embedded default runs, how to
 * build one instance, and the JSON-RPC methods and verbs it contributes. Each hook package exports one.
 *
 * @example
 * ```ts
 * export const noopDefinition = defineHook({
 *   name: "noop",
 *   summary: "does nothing",
 *   options: z.strictObject({}),
 *   schedule: { interval: 3_600_000, initialDelay: 60_000 },
 *   create: (_options, env) => ({ name: env.instance, run: async () => ({ removed: 0, reclaimedBytes: 0 }) }),
 * });
 * ```
 */
export interface HookDefinition<S extends z.ZodObject = z.ZodObject> {
  /** The hook type: `event-log`, `disk`, ... A config key equal to it needs no `type` field. */
  readonly name: string;
  /** One line for `reclaim hooks`, `--help` and the status page. */
  readonly summary: string;
  /** zod object schema of the hook's options in the config file; defaults are filled in by it. */
  readonly options: S;
  /** Default cadence in ms; a config file may override `interval`, `initialDelay`, `jitter`. */
  readonly schedule: { interval: number; initialDelay: number };
  /** Shared stores the hook works on; the first is its default leader lock. Local hooks list none (lock `none`). */
  readonly stores?: readonly StoreKind[];
  /** Options used when `reclaim start` runs without a config file; `undefined` leaves the hook off. */
  embeddedDefault?(env: Pick<HookEnvironment, "env" | "dataDir">): z.input<S> | undefined;
  /** Work done once when `reclaim start` starts the instance (e.g. the disk audit); not awaited before serving. */
  atStart?(options: z.output<S>, env: HookEnvironment): unknown;
  /** Builds one instance from validated options. May throw an option error (exit code 2). */
  create(options: z.output<S>, env: HookEnvironment): Hook | Promise<Hook>;
  /** JSON-RPC 2.0 methods served on the exporter's `POST /rpc`, answered from the instance's runner. */
  readonly rpc?: Readonly<Record<string, (runner: Runner) => unknown>>;
  /** Adds the package's own verbs to the `reclaim` command (`reclaim audit`, `reclaim docker check-labels`, ...). */
  commands?(program: Command, cli: CommandContext): void;
}

/**
 * Identity function that gives a hook definition its types.
 *
 * @example
 * ```ts
 * export const diskDefinition = defineHook({ name: "disk", ... });
 * ```
 */
export function defineHook<S extends z.ZodObject>(definition: HookDefinition<S>): HookDefinition<S> {
  return definition;
}
