/**
 * @module
 * Give back the build output of idle git worktrees without touching a tracked file: `node_modules`, `.next`,
 * `dist`, `.turbo`, `target` folders (at any depth, only when git tracks nothing inside) of worktrees whose last
 * commit, reflog and newest file are older than `days`. Never the main worktree, the current one, kept, locked or
 * in-use worktrees; never through a symlink or into another filesystem. Folders are renamed into a trash folder on
 * the same filesystem, then deleted on worker threads; `statfs` says what came back.
 *
 * @example
 * ```ts
 * import { createRunner, createLogger } from "@reclaim/core";
 * import { createWorktreesHook } from "@reclaim/worktrees";
 * import { Registry } from "prom-client";
 *
 * const registry = new Registry();
 * const runner = createRunner(createWorktreesHook({ repos: ["/src/app"], days: 30, keep: ["user-decks"], registry }), {
 *   interval: 30 * 86_400_000, initialDelay: 60_000, registry, logger: createLogger(),
 * });
 * runner.start();
 * ```
 */
export * from "./clean_worktrees.ts";
export * from "./definition.ts";
export * from "./format_report.ts";
export * from "./worktrees_options.ts";
