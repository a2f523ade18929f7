import { lstat, realpath } from "node:fs/promises";
import { join } from "node:path";
import picomatch from "picomatch";

/** The real root and the media folders that are safe to walk. */
export interface MediaPlan {
  /** Real path of the root (symlinks in the configured path resolved once, here). */
  root: string;
  /** `st_dev` of the root. */
  rootDev: number;
  /** Real paths of the media folders to walk. */
  mediaDirs: string[];
  /** Media folders left alone, with the reason (a missing folder is not listed). */
  refused: Array<{ dir: string; reason: string }>;
}

/**
 * Resolves the root and checks every media folder: it must be a real directory (not a symlink, not reached
 * through one) on the root's filesystem, and not the root itself. Returns `null` when the root does not exist.
 */
export async function resolveMediaPlan(root: string, mediaDirs: readonly string[]): Promise<MediaPlan | null> {
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const rootStat = await lstat(realRoot);
  if (!rootStat.isDirectory()) throw Object.assign(new Error(`disk root ${root} is not a directory`), { code: "ENOTDIR" });
  const plan: MediaPlan = { root: realRoot, rootDev: rootStat.dev, mediaDirs: [], refused: [] };
  for (const dir of mediaDirs) {
    // join keeps a trailing slash ("images/" → ".../images/"), which realpath would not: drop it.
    const path = join(realRoot, dir).replace(/(?<=.)\/+$/, "");
    // The options refuse this already; checked again here because walking the root would reach the stores.
    const reason = path === realRoot ? "is the root itself" : await refusal(path, rootStat.dev);
    if (reason === "missing") continue;
    if (reason) plan.refused.push({ dir, reason });
    else plan.mediaDirs.push(path);
  }
  return plan;
}

async function refusal(path: string, rootDev: number): Promise<string | "missing" | null> {
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return "is a symlink (never followed)";
    if (!st.isDirectory()) return "is not a directory";
    if (st.dev !== rootDev) return "is on another filesystem than the root";
    if ((await realpath(path)) !== path) return "is reached through a symlink";
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return "missing";
    throw err;
  }
}

/** Protect globs compiled for the scan workers: name globs (no slash) and path globs (root-relative). */
export interface CompiledProtect {
  protectName: Array<[string, string]>;
  protectPath: Array<[string, string]>;
}

/**
 * Compiles protect globs with picomatch (`dot: true`, so `*.key` also protects `.id.key`). A glob without a slash
 * matches the file's name anywhere; a glob with a slash matches its path relative to the root.
 */
export function compileProtect(globs: readonly string[]): CompiledProtect {
  const compiled: CompiledProtect = { protectName: [], protectPath: [] };
  for (const glob of globs) {
    const re = picomatch.makeRe(glob, { dot: true });
    (glob.includes("/") ? compiled.protectPath : compiled.protectName).push([re.source, re.flags]);
  }
  return compiled;
}
