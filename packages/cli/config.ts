import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { describeIssues, duration, isUserError, type HookDefinition } from "@reclaim/core";
import { z } from "zod";
import { applyEnvOverrides, type Overrides } from "./env_overrides.ts";
import { UsageError } from "./usage_error.ts";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** The schedule fields the command adds around each hook's own options. */
function hookBlock(definition: HookDefinition) {
  return (definition.options as unknown as z.ZodObject).extend({
    enabled: z.boolean().default(true),
    interval: duration().default(definition.schedule.interval),
    initialDelay: duration().default(definition.schedule.initialDelay),
    jitter: duration().default(0),
  });
}

/**
 * The schema of `reclaim.config.json`, composed from the hook definitions: top-level `log`, `exporter`,
 * `dryRun`, and one optional block per hook under `hooks`.
 *
 * @example
 * ```ts
 * const schema = configSchema(definitions);
 * const config = schema.parse(JSON.parse(text));
 * ```
 */
export function configSchema(definitions: readonly HookDefinition[]) {
  const hooks = Object.fromEntries(definitions.map((definition) => [definition.name, hookBlock(definition).optional()]));
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
    hooks: z.strictObject(hooks).prefault({}),
  });
}

/** A validated configuration with defaults filled in. */
export interface ReclaimConfig {
  log: { level: (typeof LOG_LEVELS)[number] };
  exporter: { enabled: boolean; host: string; port: number; token?: string };
  dryRun: boolean;
  hooks: Record<string, (Record<string, unknown> & { enabled: boolean; interval: number; initialDelay: number; jitter: number }) | undefined>;
}

/** Where a configuration came from. */
export interface LoadedConfig {
  config: ReclaimConfig;
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
 * Every problem is a {@link UsageError} that names the field, the reason and the value.
 *
 * @example
 * ```ts
 * const { config, path } = await loadConfig("reclaim.config.json", { definitions, env: process.env, cwd, dataDir });
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
  const overrides = applyEnvOverrides(raw as Record<string, unknown>, context.env);
  const result = configSchema(context.definitions).safeParse(raw, { reportInput: true });
  if (!result.success) {
    const where = source ?? "the embedded default config";
    const problems = describeIssues(result.error).map((problem) => describe(problem, overrides));
    throw new UsageError(`${where} is invalid: ${problems.join("; ")}`);
  }
  return { config: result.data as ReclaimConfig, path: source, baseDir: source ? dirname(source) : context.cwd };
}

/** The config `reclaim start` uses without a file: each hook's `embeddedDefault`, if it has one for this machine. */
export function embeddedDefault(context: ConfigContext): Record<string, unknown> {
  const hooks: Record<string, unknown> = {};
  for (const definition of context.definitions) {
    const options = definition.embeddedDefault?.({ env: context.env, dataDir: context.dataDir });
    if (options !== undefined) hooks[definition.name] = options;
  }
  return { hooks };
}

function describe(problem: ReturnType<typeof describeIssues>[number], overrides: Overrides): string {
  const from = overrides.get(problem.path);
  const secret = problem.path === "exporter.token";
  const value = problem.value === undefined || secret ? "" : `: current value is ${JSON.stringify(problem.value)}`;
  return `'${problem.path}'${from ? ` (from ${from})` : ""} ${problem.reason}${value}`;
}

/** Converts an option error thrown by a hook's `create` into a usage error naming the config block. */
export function asUsageError(err: unknown, hook: string): unknown {
  if (isUserError(err)) return new UsageError(`hooks.${hook}: ${err.message}`);
  return err;
}
