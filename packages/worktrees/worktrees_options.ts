import { z } from "zod";

/** Folders given back by default: build output and installed dependencies. */
export const DEFAULT_ARTIFACTS: readonly string[] = Object.freeze(["node_modules", ".next", "dist", ".turbo", "target"]);

/**
 * Options of the worktrees hook (the `hooks.worktrees` block of `reclaim.config.json`).
 *
 * @example
 * ```ts
 * worktreesOptions.parse({ repos: ["/src/app"] }); // { repos: ["/src/app"], days: 30, artifacts: [...], keep: [] }
 * ```
 */
export const worktreesOptions = z.strictObject({
  /** Repositories (any folder inside one) whose linked worktrees are looked after. Required. */
  repos: z.array(z.string().min(1)).min(1),
  /** A worktree is idle when its last commit, its reflog and its newest file outside the artifacts are all older than this many days. @default 30 */
  days: z.number().int().min(1).max(36_500).default(30),
  /** Folder names given back, at any depth, when nothing inside is tracked. Names only (no slash, not `.git`). @default ["node_modules", ".next", "dist", ".turbo", "target"] */
  artifacts: z
    .array(
      z
        .string()
        .min(1)
        .refine((name) => !name.includes("/") && !name.includes("\\") && name !== "." && name !== ".." && name !== ".git", "must be a folder name without a slash, not '.', '..' or '.git'"),
    )
    .min(1)
    .default(() => [...DEFAULT_ARTIFACTS]),
  /** Worktrees never touched: a folder name, a branch name, or a path (relative to the repository). @default [] */
  keep: z.array(z.string().min(1)).default(() => []),
});

/** Validated worktrees options. */
export type WorktreesOptions = z.output<typeof worktreesOptions>;
