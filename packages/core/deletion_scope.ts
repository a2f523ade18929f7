import type { Stats } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, posix, relative, sep } from "node:path";
import picomatch from "picomatch";
import { z } from "zod";
import { TEMP_MARKER } from "./temp_file.ts";

/** Default media folders of the hooks that delete media (`disk`, `write-through`), relative to their root. */
export const DEFAULT_MEDIA_DIRS: readonly string[] = Object.freeze(["images", "videos", "voice", "bid-images"]);

/** Default protect globs: JSON stores, keypairs and keys are never deleted. */
export const DEFAULT_PROTECT: readonly string[] = Object.freeze(["*.json", "*keypair*", "*.key"]);

/**
 * Normalises a root-relative path: `images`, `./images/`, `images//x` → `images`, `images/x`; `.`, `./`, `a/..`
 * → `.`. Backslashes count as slashes.
 *
 * @example
 * ```ts
 * normalizeRelative("./media/voice/"); // "media/voice"
 * normalizeRelative("./");             // "."
 * ```
 */
export function normalizeRelative(path: string): string {
  return posix.normalize(path.replace(/\\/g, "/")).replace(/\/+$/, "") || ".";
}

/**
 * Schema of a path relative to a root that cannot climb out of it: not absolute, no `..` segment.
 *
 * @example
 * ```ts
 * z.object({ stores: z.array(relativePath()) }).parse({ stores: ["posts.json"] });
 * relativePath().safeParse("../etc").success; // false
 * ```
 */
export function relativePath(): z.ZodString {
  return z
    .string()
    .min(1)
    .refine((p) => !p.startsWith("/") && !p.split(/[\\/]/).includes(".."), "must be a path relative to the root without '..'");
}

/**
 * Schema of the folders a deletion scope may delete from: at least one, each a strict sub-folder of the root
 * (never the root itself: `.`, `./`, `a/..`), none repeating another or lying inside another. `name` is the
 * option's name, used in the messages.
 *
 * @example
 * ```ts
 * const schema = z.strictObject({ mediaDirs: subFolders("mediaDirs") });
 * schema.safeParse({ mediaDirs: ["."] }).success;                  // false: the root itself
 * schema.safeParse({ mediaDirs: ["images", "images/x"] }).success; // false: one inside another
 * ```
 */
export function subFolders(name: string): z.ZodArray<z.ZodString> {
  const folder = relativePath().refine(
    (p) => normalizeRelative(p) !== ".",
    "must be a folder inside the root, not the root itself (every file of the root, its stores, logs and keys included, would become deletable)",
  );
  return z
    .array(folder)
    .min(1)
    .superRefine((dirs, ctx) => {
      const normalized = dirs.map(normalizeRelative);
      for (let j = 0; j < normalized.length; j++) {
        for (let i = 0; i < j; i++) {
          const [a, b] = [normalized[i]!, normalized[j]!];
          if (a === "." || b === ".") continue; // refused on its own
          const relation = a === b ? "repeat" : b.startsWith(`${a}/`) ? "be inside" : a.startsWith(`${b}/`) ? "contain" : null;
          if (relation === null) continue;
          ctx.addIssue({ code: "custom", path: [j], message: `must not ${relation} ${name}[${i}] (${JSON.stringify(dirs[i])})`, input: dirs[j] });
          return;
        }
      }
    });
}

/**
 * Schema of protect globs (see {@link compileProtect}): non-empty strings.
 *
 * @example
 * ```ts
 * protectGlobs().parse(["*.json", "videos/keep/**"]);
 * ```
 */
export function protectGlobs(): z.ZodArray<z.ZodString> {
  return z.array(z.string().min(1));
}

/**
 * The options shared by every hook that deletes media files, with their defaults: `mediaDirs` (strict
 * sub-folders of the root) and `protect` (globs). Spread into a hook's `z.strictObject`.
 *
 * @example
 * ```ts
 * const schema = z.strictObject({ root: z.string(), ...mediaScopeFields });
 * schema.parse({ root: "/data" }).mediaDirs; // ["images", "videos", "voice", "bid-images"]
 * ```
 */
export const mediaScopeFields: {
  /** Media folders, relative to the root: strict sub-folders, none inside another. @default ["images", "videos", "voice", "bid-images"] */
  mediaDirs: z.ZodDefault<z.ZodArray<z.ZodString>>;
  /** Globs never deleted: without a slash they match the file name, with one the root-relative path. @default ["*.json", "*keypair*", "*.key"] */
  protect: z.ZodDefault<z.ZodArray<z.ZodString>>;
} = {
  mediaDirs: subFolders("mediaDirs").default(() => [...DEFAULT_MEDIA_DIRS]),
  protect: protectGlobs().default(() => [...DEFAULT_PROTECT]),
};

/** Protect globs compiled once: name globs (no slash) and path globs (root-relative). */
export interface CompiledProtect {
  /** Globs without a slash, matched against a file's name. */
  readonly byName: ReadonlyArray<{ glob: string; re: RegExp }>;
  /** Globs with a slash, matched against a file's root-relative, `/`-separated path. */
  readonly byPath: ReadonlyArray<{ glob: string; re: RegExp }>;
  /** The first glob protecting `rel` (root-relative, `/`-separated), or `null`. */
  match(rel: string): string | null;
}

/**
 * Compiles protect globs with picomatch (`dot: true`, so `*.key` also protects `.id.key`; case-sensitive). A glob
 * without a slash matches a file's name anywhere; a glob with a slash matches its path relative to the root.
 *
 * @example
 * ```ts
 * const protect = compileProtect(["*.json", "videos/keep/**"]);
 * protect.match("images/meta.json");    // "*.json"
 * protect.match("videos/keep/a.mp4");   // "videos/keep/**"
 * protect.match("images/a.png");        // null
 * ```
 */
export function compileProtect(globs: readonly string[]): CompiledProtect {
  const byName: Array<{ glob: string; re: RegExp }> = [];
  const byPath: Array<{ glob: string; re: RegExp }> = [];
  for (const glob of globs) (glob.includes("/") ? byPath : byName).push({ glob, re: picomatch.makeRe(glob, { dot: true }) });
  return {
    byName,
    byPath,
    match(rel) {
      const name = rel.slice(rel.lastIndexOf("/") + 1);
      return byName.find((p) => p.re.test(name))?.glob ?? byPath.find((p) => p.re.test(rel))?.glob ?? null;
    },
  };
}

/** What a deletion scope is made of. */
export interface DeletionScopeOptions {
  /** Sub-folders of the root, relative to it, in which files may be deleted (at any depth). Validate them with {@link subFolders}. */
  folders: readonly string[];
  /** Globs never deleted (see {@link compileProtect}). @default ["*.json", "*keypair*", "*.key"] */
  protect?: readonly string[];
  /**
   * Root-relative files never deleted, with the reason given for them, nor any file whose name extends one of
   * them after a dot (`<path>.state`, `<path>.lock`): a hook's own journal, state or lock.
   * @default []
   */
  reserved?: ReadonlyArray<{ path: string; reason: string }>;
}

/** The path rules of a deletion scope: which root-relative paths may be deleted. No filesystem access. */
export interface DeletionRules {
  /** `null` when the file (root-relative, `/`-separated, normalised) may be deleted, else the reason it may not. */
  refusal(rel: string): string | null;
}

/**
 * Compiles the path rules of a scope: a file may be deleted only inside one of the folders, when no protect glob
 * matches it, it is not reserved and it is not a temporary file being written (`.reclaim-tmp-` in its name). The folders are
 * normalised; one that is the root itself (`.`) allows nothing.
 *
 * @example
 * ```ts
 * const rules = compileDeletionRules({ folders: ["images"], protect: ["*.json"] });
 * rules.refusal("images/a.png");   // null
 * rules.refusal("events.jsonl");   // "not inside an allowed folder"
 * rules.refusal("images/m.json");  // 'protected (matches "*.json")'
 * ```
 */
export function compileDeletionRules(options: DeletionScopeOptions): DeletionRules {
  const folders = options.folders.map(normalizeRelative).filter((dir) => dir !== ".");
  const protect = compileProtect(options.protect ?? DEFAULT_PROTECT);
  const reserved = (options.reserved ?? []).map(({ path, reason }) => ({ path: normalizeRelative(path), reason }));
  return {
    refusal(rel) {
      const own = reserved.find((r) => rel === r.path || rel.startsWith(`${r.path}.`));
      if (own) return own.reason;
      if (basename(rel).includes(TEMP_MARKER)) return "a temporary file being written";
      const glob = protect.match(rel);
      if (glob !== null) return `protected (matches "${glob}")`;
      if (!folders.some((dir) => rel.startsWith(`${dir}/`))) return "not inside an allowed folder";
      return null;
    },
  };
}

/** Whether a file may be deleted now: its real path and `lstat`, or why not (`gone` when it does not exist). */
export type FileVerdict = { ok: true; path: string; rel: string; stat: Stats } | { ok: false; reason: string; gone?: boolean };

/** A deletion scope resolved on disk: the real root, its filesystem, the folders that are safe, and per-file checks. */
export interface DeletionScope extends DeletionRules {
  /** Real path of the root (symlinks in the configured path resolved once, here). */
  readonly root: string;
  /** `st_dev` of the root: nothing on another filesystem is deleted. */
  readonly rootDev: number;
  /** Real paths of the folders that exist and are safe to delete from. */
  readonly folders: readonly string[];
  /** Folders left alone, with the reason (a missing folder is not listed). */
  readonly refusedFolders: ReadonlyArray<{ dir: string; reason: string }>;
  /**
   * Checks one file just before it is deleted: `path` is root-relative or absolute inside the root. The path
   * rules first (no filesystem access), then on disk: not reached through a symlink, not a symlink, a regular
   * file, on the root's filesystem.
   */
  check(path: string): Promise<FileVerdict>;
}

/**
 * Resolves a deletion scope under `root`: the root's real path and filesystem, and each folder, which must be a
 * real directory (not a symlink, not reached through one) on the root's filesystem and not the root itself.
 * Returns `null` when the root does not exist. Used by every hook that deletes files (`disk`, `write-through`).
 *
 * @example
 * ```ts
 * const scope = await openDeletionScope("/app/.data", { folders: ["images", "videos"], protect: ["*.json"] });
 * const verdict = await scope?.check("images/a.png");
 * if (verdict?.ok) await unlink(verdict.path);
 * ```
 */
export async function openDeletionScope(root: string, options: DeletionScopeOptions): Promise<DeletionScope | null> {
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const rootStat = await lstat(realRoot);
  if (!rootStat.isDirectory()) throw Object.assign(new Error(`root ${root} is not a directory`), { code: "ENOTDIR" });
  const folders: string[] = [];
  const refusedFolders: Array<{ dir: string; reason: string }> = [];
  for (const dir of options.folders) {
    // join keeps a trailing slash ("images/" → ".../images/"), which realpath would not: drop it.
    const path = join(realRoot, dir).replace(/(?<=.)\/+$/, "");
    const rel = relative(realRoot, path);
    const outside = rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
    const reason = path === realRoot ? "is the root itself" : outside ? "is outside the root" : await folderRefusal(path, rootStat.dev);
    if (reason === "missing") continue;
    if (reason) refusedFolders.push({ dir, reason });
    else folders.push(path);
  }
  const rules = compileDeletionRules(options);
  return {
    root: realRoot,
    rootDev: rootStat.dev,
    folders,
    refusedFolders,
    refusal: rules.refusal,
    async check(path) {
      const local = isAbsolute(path) ? path : join(realRoot, path);
      const rel = relative(realRoot, local);
      if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return { ok: false, reason: "outside the root" };
      const slashed = rel.split(sep).join("/");
      const refusal = rules.refusal(slashed);
      if (refusal) return { ok: false, reason: refusal };
      const absolute = join(realRoot, rel);
      try {
        if ((await realpath(dirname(absolute))) !== dirname(absolute)) return { ok: false, reason: "reached through a symlink" };
        const stat = await lstat(absolute);
        if (stat.isSymbolicLink()) return { ok: false, reason: "a symlink (never followed)" };
        if (!stat.isFile()) return { ok: false, reason: "not a regular file" };
        if (stat.dev !== rootStat.dev) return { ok: false, reason: "on another filesystem than the root" };
        return { ok: true, path: absolute, rel: slashed, stat };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return { ok: false, reason: "already gone", gone: true };
        throw err;
      }
    },
  };
}

async function folderRefusal(path: string, rootDev: number): Promise<string | "missing" | null> {
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
