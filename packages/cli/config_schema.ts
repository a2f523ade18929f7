import { INSTANCE_NAME, type HookDefinition } from "@reclaim/core";
import { z } from "zod";
import { configSchema } from "./config.ts";
import type { Io } from "./io.ts";

/**
 * The JSON Schema (draft 2020-12) of `reclaim.config.json`, generated from the same zod schemas that validate it:
 * every hook type's block under its own key, and named instances (any other key) as a union on `type`. Durations
 * and sizes accept their string or number forms.
 *
 * @example
 * ```ts
 * const schema = reclaimJsonSchema(definitions);
 * schema.properties.hooks.additionalProperties; // { oneOf: [...one block per hook type...] }
 * ```
 */
export function reclaimJsonSchema(definitions: readonly HookDefinition[]): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema(definitions), { io: "input", unrepresentable: "any", reused: "inline" }) as unknown as { properties: { hooks: Record<string, unknown> } };
  schema.properties.hooks.propertyNames = { pattern: INSTANCE_NAME.source };
  return { ...schema, title: "reclaim.config.json", description: "Configuration of the reclaim daemon: reclaim start -c reclaim.config.json" };
}

/** `reclaim config schema`: prints {@link reclaimJsonSchema} as JSON. */
export function configSchemaCommand(definitions: readonly HookDefinition[], io: Io): number {
  io.stdout(`${JSON.stringify(reclaimJsonSchema(definitions), null, 2)}\n`);
  return 0;
}
