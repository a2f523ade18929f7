import type { HookDefinition } from "@reclaim/core";
import { diskDefinition } from "@reclaim/disk";
import { dockerImagesDefinition } from "@reclaim/docker-images";
import { eventLogDefinition } from "@reclaim/event-log";
import { sqliteCompactorDefinition } from "@reclaim/sqlite-compactor";

/** Every hook the `reclaim` command knows, in the order `start` builds them. */
export const definitions: readonly HookDefinition[] = [
  eventLogDefinition,
  diskDefinition,
  dockerImagesDefinition,
  sqliteCompactorDefinition,
] as readonly HookDefinition[];
