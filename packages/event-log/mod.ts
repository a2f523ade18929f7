/**
 * @module
 * Keeps an append-only JSONL event log bounded: when it passes `maxBytes` it is replaced, atomically, by its last
 * `keepLines` lines, reading only those lines. Services append through `openEventLog()`, which never loses or
 * doubles a line across a trim. `eventLogDefinition` plugs the hook into the `reclaim` command.
 *
 * @example
 * ```ts
 * import { createEventLogHook, openEventLog } from "@reclaim/event-log";
 * import { createRunner } from "@reclaim/core";
 *
 * const log = await openEventLog("/app/.data/events.jsonl");
 * await log.appendJson({ type: "post.published", id: 42 });
 *
 * const hook = createEventLogHook({ path: "/app/.data/events.jsonl", maxBytes: "50MiB", keepLines: 10_000 });
 * createRunner(hook, { interval: 3_600_000, initialDelay: 60_000 }).start();
 * ```
 */
export * from "./appender.ts";
export * from "./definition.ts";
export * from "./errors.ts";
export * from "./event_log_hook.ts";
export * from "./event_log_options.ts";
export * from "./trim_log.ts";
