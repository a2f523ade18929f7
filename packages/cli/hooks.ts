import type { HookDefinition } from "@reclaim/core";
import { cdnUrlsDefinition } from "@reclaim/cdn-urls";
import { diskDefinition } from "@reclaim/disk";
import { dockerImagesDefinition } from "@reclaim/docker-images";
import { eventLogDefinition } from "@reclaim/event-log";
import { redisTtlDefinition } from "@reclaim/redis-ttl";
import { redisOffloadDefinition } from "@reclaim/redis-offload";
import { sqliteCompactorDefinition } from "@reclaim/sqlite-compactor";
import { worktreesDefinition } from "@reclaim/worktrees";
import { writeThroughDefinition } from "@reclaim/write-through";

/** Every hook the `reclaim` command knows, in the order `start` builds them. */
export const definitions: readonly HookDefinition[] = [
  eventLogDefinition,
  diskDefinition,
  writeThroughDefinition,
  dockerImagesDefinition,
  sqliteCompactorDefinition,
  redisTtlDefinition,
  redisOffloadDefinition,
  cdnUrlsDefinition,
  worktreesDefinition,
] as readonly HookDefinition[];
