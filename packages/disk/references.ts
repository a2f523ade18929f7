import { lstat, readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { writeFileAtomic } from "@reclaim/core";
import { visit } from "jsonc-parser";

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
    const loaded = await loadStore(root, store, options.fields);
    if (loaded === null) continue;
    if ("reason" in loaded) {
      problems.push(loaded);
      continue;
    }
    for (const { value } of loaded.values) {
      const path = referencedPath(value, options.baseUrls);
      if (path !== null) paths.add(path);
    }
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
 * the file name: deleting `images/a.png` leaves `videos/a.png` alone. Only the cleared string values change:
 * `null` is spliced in where each one was, so every other byte of the store (numbers such as
 * `1234567890123456789` or `1.10`, key order, indentation, line endings) stays as it was. A store that is not
 * UTF-8, fails to parse, or is a symlink is left untouched and reported.
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
    const loaded = await loadStore(root, store, options.fields);
    if (loaded === null) continue;
    if ("reason" in loaded) {
      result.problems.push(loaded);
      continue;
    }
    const cleared = loaded.values.filter(({ value }) => {
      const path = referencedPath(value, options.baseUrls);
      return path !== null && deleted.has(path);
    });
    if (cleared.length === 0) continue;
    if (!options.dryRun) {
      const text = spliceNulls(loaded.text, cleared);
      if (!parses(text)) {
        result.problems.push({ store, reason: "would not parse after clearing its fields; left untouched" });
        continue;
      }
      try {
        // writeFileAtomic keeps the replaced file's owner too (when running as root): never write around it.
        await writeFileAtomic(join(root, store), text, { mode: loaded.mode });
      } catch (err) {
        result.problems.push({ store, reason: `could not be rewritten: ${(err as Error).message}` });
        continue;
      }
    }
    result.cleared += cleared.length;
    result.stores[store] = cleared.length;
  }
  return result;
}

/** A string value of a configured field, and where its token (quotes included) sits in the store's text. */
interface FieldValue {
  value: string;
  offset: number;
  length: number;
}

interface LoadedStore {
  text: string;
  values: FieldValue[];
  mode: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

async function loadStore(root: string, store: string, fields: readonly string[]): Promise<LoadedStore | StoreProblem | null> {
  const path = join(root, store);
  let bytes: Buffer;
  let mode: number;
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return { store, reason: "is a symlink; left untouched" };
    if (!st.isFile()) return { store, reason: "is not a regular file" };
    mode = st.mode & 0o777;
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    return { store, reason: `could not be read: ${(err as Error).message}` };
  }
  let text: string;
  try {
    // Fatal on bad bytes: decoding them to U+FFFD and writing that back would change the store elsewhere.
    text = utf8.decode(bytes);
  } catch {
    return { store, reason: "is not valid UTF-8" };
  }
  try {
    JSON.parse(text); // the strict grammar decides what is JSON; the visitor below only locates the values
  } catch (err) {
    return { store, reason: `does not parse as JSON: ${(err as Error).message}` };
  }
  const values = locateFieldValues(text, new Set(fields));
  if (values === null) return { store, reason: "could not be scanned for its fields" };
  return { text, values, mode };
}

/**
 * Every string value of a property named in `fields`, in objects at any depth, with its source position; `null`
 * if the scanner reports an error. A value that is an object or array is descended into, never matched.
 */
function locateFieldValues(text: string, fields: ReadonlySet<string>): FieldValue[] | null {
  const values: FieldValue[] = [];
  let valueOfField = false;
  let failed = false;
  visit(
    text,
    {
      onObjectProperty: (property) => void (valueOfField = fields.has(property)),
      onObjectBegin: () => void (valueOfField = false),
      onArrayBegin: () => void (valueOfField = false),
      onLiteralValue: (value: unknown, offset, length) => {
        if (valueOfField && typeof value === "string") values.push({ value, offset, length });
        valueOfField = false;
      },
      onError: () => void (failed = true),
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
  return failed ? null : values;
}

/** `text` with each located value (in source order) replaced by `null`. */
function spliceNulls(text: string, values: readonly FieldValue[]): string {
  const parts: string[] = [];
  let at = 0;
  for (const { offset, length } of values) {
    parts.push(text.slice(at, offset), "null");
    at = offset + length;
  }
  parts.push(text.slice(at));
  return parts.join("");
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
