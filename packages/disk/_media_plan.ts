import { compileProtect as compileProtectGlobs, openDeletionScope } from "@reclaim/core";

/** The real root and the media folders that are safe to walk (core's deletion scope, in the walker's terms). */
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
 * Resolves the root and checks every media folder with core's `openDeletionScope`: it must be a real directory
 * (not a symlink, not reached through one) on the root's filesystem, and not the root itself. Returns `null` when
 * the root does not exist.
 */
export async function resolveMediaPlan(root: string, mediaDirs: readonly string[]): Promise<MediaPlan | null> {
  const scope = await openDeletionScope(root, { folders: mediaDirs });
  if (!scope) return null;
  return { root: scope.root, rootDev: scope.rootDev, mediaDirs: [...scope.folders], refused: [...scope.refusedFolders] };
}

/** Protect globs compiled for the scan workers: name globs (no slash) and path globs (root-relative). */
export interface CompiledProtect {
  protectName: Array<[string, string]>;
  protectPath: Array<[string, string]>;
}

/** Core's protect-glob compiler (`compileProtect`), as the `[source, flags]` pairs the scan workers rebuild. */
export function compileProtect(globs: readonly string[]): CompiledProtect {
  const compiled = compileProtectGlobs(globs);
  return {
    protectName: compiled.byName.map(({ re }) => [re.source, re.flags]),
    protectPath: compiled.byPath.map(({ re }) => [re.source, re.flags]),
  };
}
