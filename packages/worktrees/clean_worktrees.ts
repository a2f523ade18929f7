import { realpathSync, readdirSync, rmdirSync, statSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { basename, resolve } from "node:path";
import type { Logger } from "@reclaim/core";
import { openDeletionScope, parseOptions, throwIfAborted, type Hook, type HookIdentity, type RunReport } from "@reclaim/core";
import { Registry } from "prom-client";
import { git, gitDirOf, lastCommitAt, lastReflogAt, listWorktrees, trackedUnder, type WorktreeEntry } from "./_git.ts";
import { worktreesMetrics } from "./_metrics.ts";
import { processUsing } from "./_proc.ts";
import { abandonedTrash, moveToTrash, removeTrees, tidyTrash, trashFolder } from "./_trash.ts";
import { defaultTreeThreads, TreePool } from "./_tree_pool.ts";
import { measureFolders, walkWorktree } from "./_walk.ts";
import { worktreesOptions, type WorktreesOptions } from "./worktrees_options.ts";

/** The hook type. */
export const WORKTREES_HOOK = "worktrees";

/** One artifact folder of a worktree and what became of it. */
export interface ArtifactResult {
  /** Worktree-relative path (`apps/web/.next`). */
  path: string;
  /** Allocated bytes. */
  bytes: number;
  /** Apparent size (as `du -sb`). */
  size: number;
  files: number;
  action: "removed" | "would-remove" | "kept";
  /** Why it was kept. */
  reason?: string;
}

/** One worktree in the report. */
export interface WorktreeResult {
  path: string;
  /** Short branch name, or `null` when detached. */
  branch: string | null;
  /**
   * `cleaned`: idle, artifacts removed; `would-clean`: the same in a dry run; `idle`: idle, nothing to remove;
   * `active`: recent activity; `skipped`: never touched (see `reason`); `broken`: folder missing or empty.
   */
  state: "cleaned" | "would-clean" | "idle" | "active" | "skipped" | "broken";
  /** Why it was skipped or counted active; what was done to a broken worktree. */
  reason: string | null;
  /** Newest of last commit, reflog and file modification (ISO), `null` when unknown. */
  lastActivity: string | null;
  lastCommitAt: string | null;
  reflogAt: string | null;
  newestFileAt: string | null;
  artifactBytesBefore: number;
  artifactBytesAfter: number;
  totalBytesBefore: number;
  totalBytesAfter: number;
  artifacts: ArtifactResult[];
}

/** One repository in the report. */
export interface RepoResult {
  repo: string;
  worktrees: WorktreeResult[];
  /** Allocated bytes of its linked worktrees before and after the pass (the seed's `107GB → 34GB`). */
  totalBytesBefore: number;
  totalBytesAfter: number;
  error?: string;
}

/** What one pass did. */
export interface WorktreesReport extends RunReport {
  repos: RepoResult[];
  idle: number;
  active: number;
  protected: number;
  broken: number;
  /** Allocated bytes of the artifact folders removed (the sum of their sizes). */
  removedBytes: number;
  /** Bytes the filesystems gained during the deletion, measured with `statfs` (other writers add noise). */
  freedBytes: number;
  /** Milliseconds from the first rename until the last artifact folder was out of its worktree. */
  outOfWorktreeMs: number;
  /** Folders an interrupted pass had moved to the trash, deleted by this one. */
  finishedTrash: { folders: number };
  errors: string[];
}

/** Progress of a pass, for a progress bar. */
export interface WorktreesProgress {
  phase: "scan" | "delete";
  done: number;
  total: number;
}

/** Options of {@link cleanWorktrees}: the hook's options plus runtime extras. */
export interface CleanWorktreesOptions extends WorktreesOptions {
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Current time (ms). @default Date.now */
  now?: () => number;
  /** The current directory: the worktree that contains it is never touched. @default process.cwd() */
  cwd?: string;
  log?: Logger;
  /** Called on the calling thread as worktrees are scanned and entries deleted. */
  onProgress?: (progress: WorktreesProgress) => void;
  /** Deletion threads. @default one per core, at most 4 */
  threads?: number;
}

const DAY_MS = 86_400_000;

function realOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

function shortBranch(ref: string | null): string | null {
  return ref === null ? null : ref.replace(/^refs\/heads\//, "");
}

/**
 * One pass over the linked worktrees of each repository: finishes trash an interrupted pass left, unregisters
 * broken worktrees, and in idle worktrees moves untracked artifact folders into a trash folder on the same
 * filesystem, then deletes them on worker threads and measures what the filesystems got back.
 *
 * Never touched: the main worktree, the worktree holding `cwd`, `keep`, locked worktrees, worktrees a live process
 * uses (current directory, open or mapped file), and anything but artifact folders in which git tracks nothing.
 *
 * @example
 * ```ts
 * const report = await cleanWorktrees({ repos: ["/src/app"], days: 30, artifacts: ["node_modules", "dist"], keep: [], dryRun: true });
 * console.log(formatWorktreesReport(report));
 * ```
 */
export async function cleanWorktrees(options: CleanWorktreesOptions): Promise<WorktreesReport> {
  await using pool = new TreePool(options.threads ?? defaultTreeThreads());
  return await pass(options, pool);
}

async function pass(options: CleanWorktreesOptions, pool: TreePool): Promise<WorktreesReport> {
  const now = options.now ?? Date.now;
  const dryRun = options.dryRun ?? false;
  const cutoff = now() - options.days * DAY_MS;
  const cwd = realOrNull(options.cwd ?? process.cwd());
  const report: WorktreesReport = {
    removed: 0,
    reclaimedBytes: 0,
    removedByKind: { artifact: 0, worktree: 0 },
    repos: [],
    idle: 0,
    active: 0,
    protected: 0,
    broken: 0,
    removedBytes: 0,
    freedBytes: 0,
    outOfWorktreeMs: 0,
    finishedTrash: { folders: 0 },
    errors: [],
  };
  const kinds = report.removedByKind as Record<"artifact" | "worktree", number>;
  /** Trees to delete, by device, with the worktree they came from. */
  const pending = new Map<number, { probe: string; trees: string[]; targets: Array<{ art: ArtifactResult; wt: WorktreeResult } | null>; owners: string[] }>();
  const queue = (dev: number, probe: string, tree: string, owner: string, target: { art: ArtifactResult; wt: WorktreeResult } | null) => {
    let group = pending.get(dev);
    if (!group) pending.set(dev, (group = { probe, trees: [], targets: [], owners: [] }));
    group.trees.push(tree);
    group.targets.push(target);
    if (!group.owners.includes(owner)) group.owners.push(owner);
  };
  let firstMove: number | null = null;
  let lastMove: number | null = null;

  for (const repo of options.repos) {
    if (options.signal) throwIfAborted(options.signal);
    const repoResult: RepoResult = { repo, worktrees: [], totalBytesBefore: 0, totalBytesAfter: 0 };
    report.repos.push(repoResult);
    let entries: WorktreeEntry[];
    try {
      entries = await listWorktrees(repo);
    } catch (err) {
      repoResult.error = (err as Error).message;
      report.errors.push(repoResult.error);
      continue;
    }
    const main = entries[0];
    const linked = entries.slice(1);
    const mainPath = main?.path ?? repo;
    const reals = linked.map((e) => realOrNull(e.path));
    const used = processUsing(reals.filter((p): p is string => p !== null));
    for (const [index, entry] of linked.entries()) {
      if (options.signal) throwIfAborted(options.signal);
      options.onProgress?.({ phase: "scan", done: index, total: linked.length });
      const real = reals[index] ?? null;
      const result: WorktreeResult = {
        path: entry.path,
        branch: shortBranch(entry.branch),
        state: "skipped",
        reason: null,
        lastActivity: null,
        lastCommitAt: null,
        reflogAt: null,
        newestFileAt: null,
        artifactBytesBefore: 0,
        artifactBytesAfter: 0,
        totalBytesBefore: 0,
        totalBytesAfter: 0,
        artifacts: [],
      };
      repoResult.worktrees.push(result);
      const skip = (reason: string) => {
        result.state = "skipped";
        result.reason = reason;
        report.protected++;
      };
      const branch = result.branch;
      if (entry.locked !== null) {
        skip(entry.locked ? `locked: ${entry.locked}` : "locked");
        continue;
      }
      const kept = options.keep.find((k) => k === basename(entry.path) || k === branch || resolve(mainPath, k) === entry.path || (real !== null && realOrNull(resolve(mainPath, k)) === real));
      if (kept !== undefined) {
        skip(`kept (keep: ${JSON.stringify(kept)})`);
        continue;
      }
      const empty = real !== null && isEmptyDir(real);
      if (real === null || empty || entry.prunable !== null) {
        result.state = "broken";
        report.broken++;
        const what = real === null ? "folder missing" : empty ? "folder empty" : `prunable: ${entry.prunable}`;
        if (dryRun) {
          result.reason = `${what}; would be unregistered`;
          continue;
        }
        try {
          if (empty && real !== null) rmdirSync(real); // only an empty folder: rmdir refuses anything else
          await git(mainPath, ["worktree", "remove", entry.path]);
          result.reason = `${what}; unregistered`;
          report.removed++;
          kinds.worktree++;
          options.log?.info({ worktree: entry.path }, `unregistered broken worktree (${what})`);
        } catch (err) {
          result.reason = `${what}; could not unregister: ${(err as Error).message}`;
          report.errors.push(result.reason);
        }
        continue;
      }
      if (cwd !== null && inside(cwd, real)) {
        skip("contains the current directory");
        continue;
      }
      const user = used.get(real);
      if (user) {
        skip(`in use by process ${user.pid} (${user.command}, ${user.how} ${user.path})`);
        continue;
      }
      // git's answers and the walk at the same time: the walk runs on the pool's threads.
      const gitInfo = Promise.all([
        gitDirOf(real).then((dir) => ({ dir, error: null }), (err: Error) => ({ dir: null, error: err })),
        lastCommitAt(real),
        lastReflogAt(real),
      ]);
      const walked = walkWorktree(pool, real, options.artifacts, options.signal).then((w) => ({ walk: w, error: null }), (err: Error) => ({ walk: null, error: err }));
      const [[{ dir: gitDir, error: gitError }, commitMs, reflogMs], { walk, error: walkError }] = await Promise.all([gitInfo, walked]);
      if (walkError) throw walkError;
      if (gitDir === null) {
        skip(`git cannot read it: ${gitError!.message}`);
        continue;
      }
      // Trash an interrupted pass left behind: its folders are already out of the worktree; finish them.
      if (!dryRun) {
        for (const leftover of abandonedTrash(real, gitDir)) {
          report.finishedTrash.folders += leftover.entries.length;
          for (const tree of leftover.entries) queue(statSync(real).dev, real, tree, leftover.folder, null);
          if (leftover.entries.length === 0) tidyTrash(leftover.folder);
        }
      }
      // Artifact folders were only searched for hazards (no lstat per file): what is removed is measured by the
      // deletion threads, what stays is measured here for the report.
      const measureKept = async () => {
        const kept = walk.artifacts.flatMap((found, i) => (result.artifacts[i]!.action !== "removed" && !found.hazard?.startsWith("is ") ? [i] : []));
        const sizes = await measureFolders(pool, real, kept.map((i) => walk.artifacts[i]!.rel), options.signal);
        for (const [k, i] of kept.entries()) {
          const full = sizes[k]!;
          Object.assign(result.artifacts[i]!, { bytes: full.bytes, size: full.size, files: full.files });
          result.artifactBytesBefore += full.bytes;
          result.artifactBytesAfter += full.bytes;
          result.totalBytesBefore += full.bytes;
          result.totalBytesAfter += full.bytes;
        }
      };
      result.lastCommitAt = iso(commitMs);
      result.reflogAt = iso(reflogMs);
      result.newestFileAt = iso(walk.newestFileMs);
      const activity = [commitMs, reflogMs, walk.newestFileMs].filter((t): t is number => t !== null);
      const last = activity.length > 0 ? Math.max(...activity) : null;
      result.lastActivity = iso(last);
      result.totalBytesBefore = walk.totalBytes;
      result.totalBytesAfter = walk.totalBytes;
      result.artifacts = walk.artifacts.map((a) => ({ path: a.rel, bytes: 0, size: 0, files: a.files, action: "kept" }));
      if (walk.errors.length > 0) {
        result.state = "active";
        result.reason = `could not read everything (${walk.errors[0]}): counted as active`;
        report.active++;
        await measureKept();
        continue;
      }
      if (last === null || last >= cutoff) {
        result.state = "active";
        const why = last === null ? "no activity date" : last === walk.newestFileMs ? `file ${walk.newestFile}` : last === reflogMs ? "reflog" : "last commit";
        result.reason = `active: last activity ${iso(last) ?? "unknown"} (${why}), within ${options.days} days`;
        report.active++;
        for (const a of result.artifacts) a.reason = "worktree is active";
        await measureKept();
        continue;
      }
      report.idle++;
      // Artifact folders: not hazardous, nothing tracked inside, inside the shared deletion scope.
      const unhazardous = walk.artifacts.flatMap((found, i) => {
        if (found.hazard === null) return [found.rel];
        result.artifacts[i]!.reason = found.hazard;
        return [];
      });
      const tracked = await trackedUnder(real, unhazardous, 3);
      const candidates: string[] = [];
      for (const rel of unhazardous) {
        const inside = tracked.get(rel) ?? [];
        if (inside.length > 0) result.artifacts.find((a) => a.path === rel)!.reason = `holds tracked files (${inside.join(", ")})`;
        else candidates.push(rel);
      }
      const scope = candidates.length > 0 ? await openDeletionScope(real, { folders: candidates, protect: [] }) : null;
      for (const refused of scope?.refusedFolders ?? []) {
        const art = result.artifacts.find((a) => a.path === refused.dir);
        if (art) art.reason = refused.reason;
      }
      const allowed = new Set((scope?.folders ?? []).map((p) => p.slice(real.length + 1)));
      const toMove = result.artifacts.filter((a) => allowed.has(a.path) && a.reason === undefined);
      for (const art of result.artifacts) if (art.reason === undefined && !allowed.has(art.path)) art.reason = "gone before it could be removed";
      if (toMove.length === 0 || dryRun) await measureKept();
      if (toMove.length === 0) {
        result.state = "idle";
        result.reason = result.artifacts.length === 0 ? "idle: no artifact folders" : "idle: every artifact folder is kept";
        continue;
      }
      if (dryRun) {
        for (const art of toMove) art.action = "would-remove";
        result.state = "would-clean";
        report.removed += toMove.length;
        kinds.artifact += toMove.length;
        report.reclaimedBytes += toMove.reduce((s, a) => s + a.bytes, 0);
        continue;
      }
      // Last look before the renames: a process may have started using the worktree since the scan.
      const lateUser = processUsing([real]).get(real);
      if (lateUser) {
        report.idle--;
        skip(`in use by process ${lateUser.pid} (${lateUser.command}, ${lateUser.how} ${lateUser.path})`);
        for (const a of result.artifacts) a.reason = "worktree is in use";
        await measureKept();
        continue;
      }
      const trash = trashFolder(real, gitDir);
      const dev = statSync(real).dev;
      for (const art of toMove) {
        try {
          firstMove ??= now();
          const moved = moveToTrash(`${real}/${art.path}`, trash);
          lastMove = now();
          art.action = "removed";
          queue(dev, real, moved, trash, { art, wt: result });
          report.removed++;
          kinds.artifact++;
          options.log?.info({ worktree: real, folder: art.path, files: art.files }, "moved artifact folder to trash");
        } catch (err) {
          art.reason = `could not be moved: ${(err as Error).message}`;
          report.errors.push(`${real}/${art.path}: ${art.reason}`);
        }
      }
      result.state = result.artifacts.some((a) => a.action === "removed") ? "cleaned" : "idle";
      await measureKept();
    }
    options.onProgress?.({ phase: "scan", done: linked.length, total: linked.length });
  }
  if (firstMove !== null && lastMove !== null) report.outOfWorktreeMs = lastMove - firstMove;

  // The background part: delete the trash on worker threads, statfs before and after.
  const totalTrees = [...pending.values()].reduce((n, g) => n + g.trees.length, 0);
  if (totalTrees > 0) {
    const expected = report.repos.flatMap((r) => r.worktrees.flatMap((w) => w.artifacts.filter((a) => a.action === "removed"))).reduce((n, a) => n + a.files, 0);
    let doneBefore = 0;
    for (const [dev, group] of pending) {
      const before = await freeBytes(group.probe);
      // Not aborted with the pass: the folders are out of their worktrees already, and trash whose owner is alive
      // (this process) would wait for a restart. A kill here is what kill_test.ts covers.
      const removal = await removeTrees(pool, group.trees, dev, {
        onProgress: (entries) => options.onProgress?.({ phase: "delete", done: doneBefore + entries, total: Math.max(expected, doneBefore + entries) }),
      });
      doneBefore += removal.entries;
      const after = await freeBytes(group.probe);
      if (before !== null && after !== null) report.freedBytes += Math.max(0, after - before);
      for (const [i, target] of group.targets.entries()) {
        const measured = removal.roots[i]!;
        if (target) {
          Object.assign(target.art, { bytes: measured.bytes, size: measured.size, files: measured.files });
          target.wt.artifactBytesBefore += measured.bytes;
          target.wt.totalBytesBefore += measured.bytes;
        }
        report.removedBytes += measured.bytes;
        report.reclaimedBytes += measured.bytes;
      }
      for (const e of removal.errors) report.errors.push(e);
      if (removal.otherFilesystem > 0) report.errors.push(`${removal.otherFilesystem} folder(s) on another filesystem left in the trash`);
      for (const owner of group.owners) tidyTrash(owner);
    }
  }
  for (const repo of report.repos) {
    for (const w of repo.worktrees) {
      repo.totalBytesBefore += w.totalBytesBefore;
      repo.totalBytesAfter += w.totalBytesAfter;
    }
  }
  return report;
}

function isEmptyDir(path: string): boolean {
  try {
    return statSync(path).isDirectory() && readdirSync(path).length === 0;
  } catch {
    return false;
  }
}

async function freeBytes(path: string): Promise<number | null> {
  try {
    const st = await statfs(path);
    return st.bavail * st.bsize;
  } catch {
    return null;
  }
}

/** Options of {@link createWorktreesHook}. */
export interface CreateWorktreesHookOptions extends HookIdentity {
  repos: readonly string[];
  /** @default 30 */
  days?: number;
  /** @default ["node_modules", ".next", "dist", ".turbo", "target"] */
  artifacts?: readonly string[];
  /** @default [] */
  keep?: readonly string[];
  /** @default process.cwd() */
  cwd?: string;
  onProgress?: (progress: WorktreesProgress) => void;
  threads?: number;
}

/**
 * The worktrees hook: one {@link cleanWorktrees} pass per run, span `clean worktrees`, metrics with `hook`.
 *
 * @example
 * ```ts
 * const runner = createRunner(createWorktreesHook({ repos: ["/src/app"], registry }), { interval: 30 * 86_400_000, initialDelay: 60_000, registry });
 * ```
 */
export function createWorktreesHook(options: CreateWorktreesHookOptions): Hook<WorktreesReport> {
  const name = options.name ?? WORKTREES_HOOK;
  const { name: _n, registry: _r, cwd, onProgress, threads, ...rest } = options;
  const resolved = parseOptions(WORKTREES_HOOK, worktreesOptions, rest);
  const metrics = worktreesMetrics(options.registry ?? new Registry(), name);
  let last: { artifactBytes: number; allArtifactBytes: number; removedBytes: number; idle: number; active: number; protected: number; broken: number; freedBytes: number } | null = null;
  return {
    name,
    type: WORKTREES_HOOK,
    spanName: "clean worktrees",
    kind: "artifact",
    options: Object.freeze({ ...resolved }),
    async run(ctx) {
      const report = await cleanWorktrees({
        ...resolved,
        dryRun: ctx.dryRun,
        signal: ctx.signal,
        now: ctx.now,
        log: ctx.log,
        ...(cwd !== undefined ? { cwd } : {}),
        ...(onProgress !== undefined ? { onProgress } : {}),
        ...(threads !== undefined ? { threads } : {}),
      });
      const scanned = report.repos.flatMap((r) => r.worktrees);
      const idleLeft = scanned.filter((w) => w.state === "cleaned" || w.state === "would-clean" || w.state === "idle");
      const artifactBytes = idleLeft.reduce((s, w) => s + w.artifactBytesAfter, 0);
      const allArtifactBytes = scanned.reduce((s, w) => s + w.artifactBytesAfter, 0);
      metrics.artifactBytes.set(artifactBytes);
      last = { artifactBytes, allArtifactBytes, removedBytes: report.removedBytes, idle: report.idle, active: report.active, protected: report.protected, broken: report.broken, freedBytes: report.freedBytes };
      metrics.worktrees.set("idle", report.idle);
      metrics.worktrees.set("active", report.active);
      metrics.worktrees.set("protected", report.protected);
      metrics.worktrees.set("broken", report.broken);
      if (!ctx.dryRun) metrics.freedBytes.inc(report.freedBytes);
      ctx.span.setAttributes({
        "reclaim.worktrees.idle": report.idle,
        "reclaim.worktrees.active": report.active,
        "reclaim.worktrees.protected": report.protected,
        "reclaim.worktrees.broken": report.broken,
        "reclaim.worktrees.removed_bytes": report.removedBytes,
        "reclaim.worktrees.freed_bytes": report.freedBytes,
      });
      return report;
    },
    status() {
      if (!last) return { lastPass: null };
      return {
        lastPass: last,
        resources: [
          { label: "artifacts in idle worktrees", value: last.artifactBytes, unit: "bytes", max: last.allArtifactBytes },
          { label: "artifacts in all scanned worktrees", value: last.allArtifactBytes, unit: "bytes" },
          { label: "removed, last pass", value: last.removedBytes, unit: "bytes" },
          { label: "freed (statfs), last pass", value: last.freedBytes, unit: "bytes" },
          { label: "idle worktrees", value: last.idle, unit: "count", max: last.idle + last.active + last.protected },
          { label: "active worktrees", value: last.active, unit: "count", max: last.idle + last.active + last.protected },
        ],
      };
    },
  };
}
