import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { describeIssues, duration, INSTANCE_NAME, isUserError, redactUrl, UsageError, type HookDefinition, type StoreKind } from "@reclaim/core";
import { z } from "zod";
import { applyEnvOverrides, type Overrides } from "./env_overrides.ts";
import { resolveInstances, type Instance } from "./instances.ts";

/** pino's levels: `log.level`, `RECLAIM_LOG_LEVEL`, `reclaim start --log-level`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Where a hook's leader lock lives: nowhere, in its Redis, or in its Postgres. */
export const LOCK_KINDS = ["none", "redis", "postgres"] as const;
export type LockKind = (typeof LOCK_KINDS)[number];

/** The fields the command reads from every hook block, besides the hook's own options. */
export const COMMON_HOOK_FIELDS = ["type", "enabled", "interval", "initialDelay", "jitter", "lock", "lockTtl", "redis", "postgres"] as const;

const STORE_PROTOCOLS: Record<StoreKind, readonly string[]> = { redis: ["redis:", "rediss:"], postgres: ["postgres:", "postgresql:"] };

/**
 * Whether `url` is a URL for that kind of store (`redis://`, `rediss://`; `postgres://`, `postgresql://`).
 *
 * @example
 * ```ts
 * isStoreUrl("redis", "redis://cache:6379"); // true
 * ```
 */
export function isStoreUrl(kind: StoreKind, url: string): boolean {
  return URL.canParse(url) && STORE_PROTOCOLS[kind].includes(new URL(url).protocol);
}

const storeUrl = (kind: StoreKind, example: string) =>
  z
    .string()
    .min(1)
    .refine((url) => isStoreUrl(kind, url), `must be a URL such as ${example}`)
    .describe(`Connection URL, e.g. ${example}`);
const redisUrl = storeUrl("redis", "redis://user:password@host:6379/0");
const postgresUrl = storeUrl("postgres", "postgres://user:password@host:5432/db");
const redisBlock = z.strictObject({ url: redisUrl.optional(), cluster: z.boolean().default(false).describe("connect as a Redis Cluster client") });
const postgresBlock = z.strictObject({ url: postgresUrl.optional() });

/** A hook type's block: its own options plus the fields the command adds (type, schedule, lock, connections). */
function hookBlock(definition: HookDefinition, type: "required" | "optional") {
  const literal = z.literal(definition.name);
  return definition.options
    .safeExtend({
      type: type === "required" ? literal : literal.optional(),
      enabled: z.boolean().default(true),
      interval: duration().default(definition.schedule.interval),
      initialDelay: duration().default(definition.schedule.initialDelay),
      jitter: duration().default(0),
      lock: z.enum(LOCK_KINDS).optional().describe(`leader lock; default ${definition.stores?.[0] ?? "none"}`),
      lockTtl: duration()
        .refine((ms) => ms >= 1_000, "must be at least 1s")
        .optional(),
      redis: z.strictObject({ url: redisUrl.optional(), cluster: z.boolean().optional() }).optional(),
      postgres: postgresBlock.optional(),
    })
    .describe(definition.summary);
}

/**
 * The schema of `reclaim.config.json`, composed from the hook definitions: top-level `log`, `exporter`,
 * `dryRun`, `redis`, `postgres`, and `hooks`, whose keys are hook types (`"disk": {...}`) or instance names with
 * a `type` (`"logs-db": { "type": "sqlite-compactor", ... }`).
 *
 * @example
 * ```ts
 * const schema = configSchema(definitions);
 * const config = schema.parse(JSON.parse(text));
 * ```
 */
export function configSchema(definitions: readonly HookDefinition[]) {
  const byType = Object.fromEntries(definitions.map((definition) => [definition.name, hookBlock(definition, "optional").optional()]));
  const [first, ...rest] = definitions.map((definition) => hookBlock(definition, "required"));
  const named = first ? z.discriminatedUnion("type", [first, ...rest]) : z.never();
  return z.strictObject({
    $schema: z.string().optional(),
    log: z.strictObject({ level: z.enum(LOG_LEVELS).default("info") }).prefault({}),
    exporter: z
      .strictObject({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default("127.0.0.1"),
        port: z.number().int().min(0).max(65_535).default(9_464),
        token: z.string().min(16).optional(),
      })
      .prefault({}),
    dryRun: z.boolean().default(false),
    redis: redisBlock.prefault({}).describe("Redis for hooks that use one (default URL: REDIS_URL)"),
    postgres: postgresBlock.prefault({}).describe("Postgres for hooks that use one (default URL: DATABASE_URL)"),
    hooks: z
      .object(byType)
      .catchall(named)
      .prefault({})
      .describe("Hook instances: a hook type as the key, or an instance name ([a-z][a-z0-9-]*) with a \"type\""),
  });
}

/** The fields every hook block has after validation, besides the hook's own options. */
export interface HookBlock {
  type?: string | undefined;
  enabled: boolean;
  interval: number;
  initialDelay: number;
  jitter: number;
  lock?: LockKind | undefined;
  lockTtl?: number | undefined;
  redis?: { url?: string | undefined; cluster?: boolean | undefined } | undefined;
  postgres?: { url?: string | undefined } | undefined;
  [option: string]: unknown;
}

/** A validated configuration with defaults filled in. */
export interface ReclaimConfig {
  log: { level: (typeof LOG_LEVELS)[number] };
  exporter: { enabled: boolean; host: string; port: number; token?: string | undefined };
  dryRun: boolean;
  redis: { url?: string | undefined; cluster: boolean };
  postgres: { url?: string | undefined };
  hooks: Record<string, HookBlock>;
}

/** Where a configuration came from, and the hook instances it defines. */
export interface LoadedConfig {
  config: ReclaimConfig;
  /** Every configured instance, in config order, with its lock and connections resolved. */
  instances: Instance[];
  /** Absolute path of the file, or `null` for the embedded default. */
  path: string | null;
  /** Folder that relative paths in the file are resolved against. */
  baseDir: string;
}

/** What {@link loadConfig} needs to know about its surroundings. */
export interface ConfigContext {
  definitions: readonly HookDefinition[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Absolute data folder of the embedded default. */
  dataDir: string;
}

/**
 * Reads, overrides from the environment and validates the config. `file` given: it must exist. Not given:
 * `./reclaim.config.json` when present, otherwise the embedded default built from each hook's `embeddedDefault`.
 * Every problem is a {@link UsageError} that names the field, the reason and the value (never a password).
 * Nothing is connected to: a store's URL is checked for its form only.
 *
 * @example
 * ```ts
 * const { config, instances } = await loadConfig("reclaim.config.json", { definitions, env: process.env, cwd, dataDir });
 * ```
 */
export async function loadConfig(file: string | undefined, context: ConfigContext): Promise<LoadedConfig> {
  const explicit = file !== undefined;
  const path = resolve(context.cwd, file ?? "reclaim.config.json");
  let raw: unknown;
  let source: string | null = path;
  try {
    const text = await readFile(path, "utf8");
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`${path} is not valid JSON: ${(err as Error).message}`);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (explicit || code !== "ENOENT") {
      throw new UsageError(`cannot read config file ${path}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
    }
    raw = embeddedDefault(context);
    source = null;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UsageError(`${path} must contain a JSON object: found ${Array.isArray(raw) ? "an array" : typeof raw}`);
  }
  const where = source ?? "the embedded default config";
  const keyProblems = checkHookKeys((raw as { hooks?: unknown }).hooks, context.definitions);
  if (keyProblems.length > 0) throw new UsageError(`${where} is invalid: ${keyProblems.join("; ")}`);
  const overrides = applyEnvOverrides(raw as Record<string, unknown>, context.env);
  const result = configSchema(context.definitions).safeParse(raw, { reportInput: true });
  if (!result.success) {
    const problems = describeIssues(result.error).map((problem) => describe(problem, overrides));
    throw new UsageError(`${where} is invalid: ${problems.join("; ")}`);
  }
  // Each block's own options are typed per definition, known only at run time: the common fields are what zod
  // inferred, the rest stays `unknown` until the definition's `create` gets it.
  const config = result.data as ReclaimConfig;
  const instances = resolveInstances(config, context.definitions, context.env, where);
  return { config, instances, path: source, baseDir: source ? dirname(source) : context.cwd };
}

/** The config `reclaim start` uses without a file: each hook's `embeddedDefault`, if it has one for this machine. */
export function embeddedDefault(context: Omit<ConfigContext, "cwd">): Record<string, unknown> {
  const hooks: Record<string, unknown> = {};
  for (const definition of context.definitions) {
    const options = definition.embeddedDefault?.({ env: context.env, dataDir: context.dataDir });
    if (options !== undefined) hooks[definition.name] = options;
  }
  return { hooks };
}

/** Names under `hooks` that are not instance names, name no type, or name an unknown type — each as one line. */
function checkHookKeys(hooks: unknown, definitions: readonly HookDefinition[]): string[] {
  if (hooks === null || typeof hooks !== "object" || Array.isArray(hooks)) return [];
  const types = new Set(definitions.map((definition) => definition.name));
  const known = `known types: ${[...types].join(", ")}`;
  const problems: string[] = [];
  for (const [key, block] of Object.entries(hooks)) {
    if (!INSTANCE_NAME.test(key)) {
      problems.push(`'hooks.${key}' is not a valid instance name: use a lower-case letter, then lower-case letters, digits or dashes`);
      continue;
    }
    const type = block !== null && typeof block === "object" ? (block as { type?: unknown }).type : undefined;
    if (type === undefined && !types.has(key)) problems.push(`'hooks.${key}' needs a "type": '${key}' is not a hook type (${known})`);
    else if (typeof type === "string" && !types.has(type)) problems.push(`'hooks.${key}.type' is not a known hook type: current value is ${JSON.stringify(type)} (${known})`);
  }
  return problems;
}

function describe(problem: ReturnType<typeof describeIssues>[number], overrides: Overrides): string {
  const from = overrides.get(problem.path);
  let value = problem.value === undefined ? "" : `: current value is ${JSON.stringify(problem.value)}`;
  if (problem.path === "exporter.token") value = "";
  else if (/(^|\.)(redis|postgres)\.url$/.test(problem.path) && typeof problem.value === "string") value = `: current value is ${JSON.stringify(redactUrl(problem.value))}`;
  return `'${problem.path}'${from ? ` (from ${from})` : ""} ${problem.reason}${value}`;
}

/** Converts an option error thrown by a hook's `create` into a usage error naming the config block. */
export function asUsageError(err: unknown, hook: string): unknown {
  if (isUserError(err)) return new UsageError(`hooks.${hook}: ${err.message}`);
  return err;
}
