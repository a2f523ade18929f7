import type { HookDefinition } from "@reclaim/core";
import { loadConfig } from "./config.ts";
import { dataDirOf, type Io } from "./io.ts";

/** One hook type as `reclaim hooks` lists it. */
export interface HookTypeListing {
  type: string;
  summary: string;
  /** Shared stores it works on (its default lock lives in the first). */
  stores: string[];
  /** Configured instances of this type: name, whether enabled, lock. */
  instances: Array<{ name: string; enabled: boolean; lock: string }>;
}

/**
 * `reclaim hooks [-c FILE] [--json]`: every hook type with its one-line summary, and the instances the config (or
 * the embedded default) defines for it. Never connects to a store.
 *
 * @example
 * ```ts
 * await listHooks({ config: "reclaim.config.json" }, definitions, io);
 * ```
 */
export async function listHooks(flags: { config?: string; json?: boolean }, definitions: readonly HookDefinition[], io: Io): Promise<number> {
  const loaded = await loadConfig(flags.config, { definitions, env: io.env, cwd: io.cwd, dataDir: dataDirOf(io) });
  const listing: HookTypeListing[] = definitions.map((definition) => ({
    type: definition.name,
    summary: definition.summary,
    stores: [...(definition.stores ?? [])],
    instances: loaded.instances
      .filter((instance) => instance.definition === definition)
      .map((instance) => ({ name: instance.name, enabled: instance.enabled, lock: instance.lock })),
  }));
  if (flags.json) {
    io.stdout(`${JSON.stringify({ source: loaded.path ?? "embedded default", hooks: listing }, null, 2)}\n`);
    return 0;
  }
  const width = Math.max(...listing.map((hook) => hook.type.length));
  const lines = listing.map((hook) => {
    const instances = hook.instances.length === 0 ? "not configured" : hook.instances.map(describeInstance).join(", ");
    return `${hook.type.padEnd(width)}  ${hook.summary}\n${" ".repeat(width)}  instances: ${instances}`;
  });
  io.stdout(`${lines.join("\n")}\n\nconfig: ${loaded.path ?? "embedded default"}\n`);
  return 0;
}

function describeInstance(instance: HookTypeListing["instances"][number]): string {
  const notes = [instance.enabled ? "" : "disabled", instance.lock === "none" ? "" : `lock: ${instance.lock}`].filter(Boolean);
  return notes.length > 0 ? `${instance.name} (${notes.join(", ")})` : instance.name;
}
