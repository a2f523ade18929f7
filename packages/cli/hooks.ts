import type { HookDefinition } from "@reclaim/core";

/** Every hook the `reclaim` command knows, in the order `start` builds them. */
export const definitions: readonly HookDefinition[] = [];
