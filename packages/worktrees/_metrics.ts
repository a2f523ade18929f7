import { counter, gauge } from "@reclaim/core";
import type { Registry } from "prom-client";

/** The worktrees hook's own metrics, bound to one hook instance. */
export interface WorktreesMetrics {
  artifactBytes: { set(bytes: number): void };
  worktrees: { set(scope: "idle" | "active" | "protected" | "broken", count: number): void };
  freedBytes: { inc(bytes: number): void };
}

/** Registers (once per registry) the worktrees metrics and binds them to the instance `hook`. */
export function worktreesMetrics(registry: Registry, hook: string): WorktreesMetrics {
  const artifactBytes = gauge(registry, {
    name: "reclaim_worktrees_artifact_bytes",
    help: "Allocated bytes of artifact folders left in idle worktrees at the end of the last pass (all of them in a dry run).",
    labelNames: ["hook"],
  });
  const worktrees = gauge(registry, {
    name: "reclaim_worktrees",
    help: "Linked worktrees at the last pass by scope: idle, active (recent activity), protected (locked, kept, in use, current), broken.",
    labelNames: ["hook", "scope"],
  });
  const freed = counter(registry, {
    name: "reclaim_worktrees_freed_bytes_total",
    help: "Bytes given back to the filesystems of the worktrees, measured with statfs before and after each pass.",
    labelNames: ["hook"],
  });
  freed.inc({ hook }, 0);
  return {
    artifactBytes: { set: (bytes) => artifactBytes.set({ hook }, bytes) },
    worktrees: { set: (scope, count) => worktrees.set({ hook, scope }, count) },
    freedBytes: { inc: (bytes) => freed.inc({ hook }, bytes) },
  };
}
