/**
 * @module
 * reclaim's core: the hook contract, the runner loop that schedules a hook, metrics/span/logging helpers,
 * durations and sizes, option validation, leader locks, atomic writes and the deletion scope of hooks that delete files.
 *
 * @example
 * ```ts
 * import { createRunner, createLogger } from "@reclaim/core";
 * import { Registry } from "prom-client";
 *
 * const registry = new Registry();
 * const runner = createRunner(
 *   { name: "noop", spanName: "sweep nothing", run: async () => ({ removed: 0, reclaimedBytes: 0 }) },
 *   { interval: 60_000, initialDelay: 1_000, registry, logger: createLogger() },
 * );
 * runner.start();
 * ```
 */
export * from "./atomic_write.ts";
export * from "./connections.ts";
export * from "./definition.ts";
export * from "./deletion_scope.ts";
export * from "./duration.ts";
export * from "./errors.ts";
export * from "./hook.ts";
export * from "./kill_switch.ts";
export * from "./leader_lock.ts";
export * from "./logger.ts";
export * from "./metrics.ts";
export * from "./module_worker.ts";
export * from "./options.ts";
export * from "./process_identity.ts";
export * from "./removed_bytes.ts";
export * from "./runner.ts";
export * from "./size.ts";
export * from "./temp_file.ts";
