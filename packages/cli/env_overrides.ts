/** Config paths set from the environment, mapped to the variable that set them (for error messages). */
export type Overrides = Map<string, string>;

const BOOLEAN: Record<string, boolean> = { true: true, "1": true, yes: true, on: true, false: false, "0": false, no: false, off: false };

/**
 * Applies the environment overrides for the common switches to a raw (not yet validated) config, in place:
 *
 * | variable | sets |
 * | --- | --- |
 * | `RECLAIM_LOG_LEVEL` | `log.level` |
 * | `RECLAIM_HOST`, `RECLAIM_PORT`, `RECLAIM_TOKEN` | `exporter.host`, `exporter.port`, `exporter.token` |
 * | `RECLAIM_DRY_RUN` | `dryRun` |
 * | `RECLAIM_INTERVAL`, `RECLAIM_INITIAL_DELAY` | `interval`, `initialDelay` of every configured hook |
 *
 * (`RECLAIM_ENABLED` / `GC_ENABLED` are read by every runner; `RECLAIM_DATA_DIR` moves the embedded default.)
 *
 * @example
 * ```ts
 * const raw = { hooks: { disk: {} } };
 * applyEnvOverrides(raw, { RECLAIM_INTERVAL: "5s" }); // raw.hooks.disk.interval === "5s"
 * ```
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): Overrides {
  const overrides: Overrides = new Map();
  const set = (path: string[], value: unknown, variable: string) => {
    let node = raw;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      if (child === null || typeof child !== "object" || Array.isArray(child)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
    overrides.set(path.join("."), variable);
  };
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };

  const level = text("RECLAIM_LOG_LEVEL");
  if (level !== undefined) set(["log", "level"], level, "RECLAIM_LOG_LEVEL");
  const host = text("RECLAIM_HOST");
  if (host !== undefined) set(["exporter", "host"], host, "RECLAIM_HOST");
  const port = text("RECLAIM_PORT");
  if (port !== undefined) set(["exporter", "port"], /^\d+$/.test(port) ? Number(port) : port, "RECLAIM_PORT");
  const token = text("RECLAIM_TOKEN");
  if (token !== undefined) set(["exporter", "token"], token, "RECLAIM_TOKEN");
  const dryRun = text("RECLAIM_DRY_RUN");
  if (dryRun !== undefined) set(["dryRun"], BOOLEAN[dryRun.toLowerCase()] ?? dryRun, "RECLAIM_DRY_RUN");

  const hooks = raw.hooks;
  if (hooks && typeof hooks === "object" && !Array.isArray(hooks)) {
    for (const [variable, field] of [["RECLAIM_INTERVAL", "interval"], ["RECLAIM_INITIAL_DELAY", "initialDelay"]] as const) {
      const value = text(variable);
      if (value === undefined) continue;
      for (const name of Object.keys(hooks)) set(["hooks", name, field], /^\d+$/.test(value) ? Number(value) : value, variable);
    }
  }
  return overrides;
}
