import { lstat, readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { writeFileAtomic } from "@reclaim/core";

/** Which JSON stores point at media files, and how. */
export interface ReferenceOptions {
  /** JSON files, relative to the root. @default ["posts.json"] */
  stores: readonly string[];
  /** Fields whose string value is a media path or URL. @default ["imageUrl", "videoUrl"] */
  fields: readonly string[];
  /**
   * Prefixes that stand for the root: absolute URLs (`http://localhost:3000/`) or URL paths (`/static/`).
   * Values with another scheme or host are never treated as local. @default []
   */
  baseUrls?: readonly string[];
}

/** A store that could not be read, parsed or written: it is left untouched. */
export interface StoreProblem {
  store: string;
  reason: string;
}

/**
 * The root-relative path a stored value points at, or `null` when it is not a local path. Accepted forms:
 * `images/a.png`, `./images/a.png`, `/images/a.png`, and any configured base URL followed by the path
 * (`http://localhost:3000/images/a.png` with `baseUrls: ["http://localhost:3000/"]`). A query string or
 * fragment is dropped, percent-escapes are decoded, and a path that climbs out of the root (`../x`) is refused.
 *
 * @example
 * ```ts
 * referencedPath("/images/a.png?v=2");                 // "images/a.png"
 * referencedPath("https://cdn.example/images/a.png");  // null (not a configured base URL)
 * referencedPath("https://cdn.example/images/a.png", ["https://cdn.example/"]); // "images/a.png"
 * ```
 */
export function referencedPath(value: unknown, baseUrls: readonly string[] = []): string | null {
  if (typeof value !== "string" || value.trim() === "") return null;
  let rest = value.trim();
  const base = baseUrls.find((prefix) => rest.startsWith(prefix));
  if (base !== undefined) rest = rest.slice(base.length);
  else if (/^[a-z][a-z0-9+.-]*:/i.test(rest) || rest.startsWith("//")) return null;
  rest = rest.replace(/[?#].*$/s, "");
  try {
    rest = decodeURIComponent(rest);
  } catch {
    // keep the raw text: a stray % is a valid file name character
  }
  const normalized = posix.normalize(rest.replace(/^\/+/, ""));
  if (normalized === "." || normalized === ".." || normalized.startsWith("../") || normalized.endsWith("/")) return null;
  return normalized;
}

/**
 * Reads every store and returns the root-relative paths their fields reference. Stores that do not exist are
 * ignored; stores that cannot be parsed are reported and contribute nothing.
 *
 * @example
 * ```ts
 * const { paths, problems } = await readReferences("/data", { stores: ["posts.json"], fields: ["imageUrl"] });
 * paths.has("images/a.png");
 * ```
 */
export async function readReferences(root: string, options: ReferenceOptions): Promise<{ paths: Set<string>; problems: StoreProblem[] }> {
  const paths = new Set<string>();
  const problems: StoreProblem[] = [];
  for (const store of options.stores) {
    const loaded = await loadStore(root, store);
    if (loaded === null) continue;
    if ("reason" in loaded) {
      problems.push(loaded);
      continue;
    }
    visitFields(loaded.data, options.fields, (value) => {
      const path = referencedPath(value, options.baseUrls);
      if (path !== null) paths.add(path);
      return false;
    });
  }
  return { paths, problems };
}

/** What {@link pruneReferences} changed. */
export interface PruneResult {
  /** Fields set to `null`, over all stores (in a dry run: fields that would be). */
  cleared: number;
  /** Fields cleared per store (only stores with at least one). */
  stores: Record<string, number>;
  problems: StoreProblem[];
}

/**
 * Sets to `null` every configured field that references one of `deleted` (root-relative paths), rewriting each
 * changed store atomically (temp file, fsync, rename). Matching is on the whole root-relative path, never on
 * the file name: deleting `images/a.png` leaves `videos/a.png` alone. A store that fails to parse, or is a
 * symlink, is left untouched and reported. Indentation and a trailing newline are kept.
 *
 * @example
 * ```ts
 * const result = await pruneReferences("/data", new Set(["images/a.png"]), { stores: ["posts.json"], fields: ["imageUrl"] });
 * result.cleared; // 1
 * ```
 */
export async function pruneReferences(root: string, deleted: ReadonlySet<string>, options: ReferenceOptions & { dryRun?: boolean }): Promise<PruneResult> {
  const result: PruneResult = { cleared: 0, stores: {}, problems: [] };
  if (deleted.size === 0) return result;
  for (const store of options.stores) {
    const loaded = await loadStore(root, store);
    if (loaded === null) continue;
    if ("reason" in loaded) {
      result.problems.push(loaded);
      continue;
    }
    const cleared = visitFields(loaded.data, options.fields, (value) => {
      const path = referencedPath(value, options.baseUrls);
      return path !== null && deleted.has(path);
    });
    if (cleared === 0) continue;
    if (!options.dryRun) {
      try {
        const text = JSON.stringify(loaded.data, null, loaded.indent) + (loaded.trailingNewline ? "\n" : "");
        await writeFileAtomic(join(root, store), text, { mode: loaded.mode });
      } catch (err) {
        result.problems.push({ store, reason: `could not be rewritten: ${(err as Error).message}` });
        continue;
      }
    }
    result.cleared += cleared;
    result.stores[store] = cleared;
  }
  return result;
}

interface LoadedStore {
  data: unknown;
  indent: string;
  trailingNewline: boolean;
  mode: number;
}

async function loadStore(root: string, store: string): Promise<LoadedStore | StoreProblem | null> {
  const path = join(root, store);
  let text: string;
  let mode: number;
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return { store, reason: "is a symlink; left untouched" };
    if (!st.isFile()) return { store, reason: "is not a regular file" };
    mode = st.mode & 0o777;
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    return { store, reason: `could not be read: ${(err as Error).message}` };
  }
  try {
    const data: unknown = JSON.parse(text);
    const indent = /^[[{]\r?\n([ \t]+)/.exec(text)?.[1] ?? "";
    return { data, indent, trailingNewline: text.endsWith("\n"), mode };
  } catch (err) {
    return { store, reason: `does not parse as JSON: ${(err as Error).message}` };
  }
}

/** Visits every `field` of every object in `data`; sets it to null when `clear` says so. Returns the count. */
function visitFields(data: unknown, fields: readonly string[], clear: (value: unknown) => boolean): number {
  let cleared = 0;
  const stack: unknown[] = [data];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && typeof item === "object") stack.push(item);
    } else if (node !== null && typeof node === "object") {
      const record = node as Record<string, unknown>;
      for (const field of fields) {
        if (Object.hasOwn(record, field) && clear(record[field])) {
          record[field] = null;
          cleared++;
        }
      }
      for (const value of Object.values(record)) if (value !== null && typeof value === "object") stack.push(value);
    }
  }
  return cleared;
}
