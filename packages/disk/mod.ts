/**
 * @module
 * Disk hooks for a service's data volume: a media age sweep, a disk-pressure sweep driven by `statfs`
 * watermarks, pruning of JSON references to deleted files, and a disk audit (`auditDir`, `formatAudit`,
 * `logDiskAudit`). Deletions never follow symlinks, never leave the root or its filesystem, and never touch
 * protected, recently modified or reclaim temp files.
 *
 * @example
 * ```ts
 * import { createRunner, createLogger } from "@reclaim/core";
 * import { createDiskHook, logDiskAudit } from "@reclaim/disk";
 * import { Registry } from "prom-client";
 *
 * const registry = new Registry();
 * const logger = createLogger();
 * await logDiskAudit("/app/.data", logger);
 * const hook = createDiskHook({ root: "/app/.data", remote: { enabled: true }, registry });
 * createRunner(hook, { interval: 3_600_000, initialDelay: 60_000, registry, logger }).start();
 * ```
 */
export * from "./audit.ts";
export * from "./definition.ts";
export * from "./disk_hook.ts";
export * from "./disk_options.ts";
export * from "./disk_usage.ts";
export * from "./references.ts";
