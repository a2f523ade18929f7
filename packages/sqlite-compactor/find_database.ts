import { closeSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";

const EXTENSIONS = [".db", ".sqlite", ".sqlite3"];
const HEADER = "SQLite format 3\0";

/**
 * The first SQLite database file directly in `dir` (by name: `*.db`, `*.sqlite`, `*.sqlite3`, whose first 16 bytes
 * are the SQLite header), or undefined when there is none or `dir` does not exist. Used by the embedded default.
 *
 * @example
 * ```ts
 * findSqliteDatabase("/srv/app/.data"); // "/srv/app/.data/app.db"
 * ```
 */
export function findSqliteDatabase(dir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && EXTENSIONS.some((ext) => entry.name.toLowerCase().endsWith(ext)))
      .map((entry) => entry.name)
      .sort();
  } catch {
    return undefined;
  }
  return names.map((name) => join(dir, name)).find(hasSqliteHeader);
}

function hasSqliteHeader(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buffer = Buffer.alloc(HEADER.length);
    return readSync(fd, buffer, 0, buffer.length, 0) === buffer.length && buffer.toString("latin1") === HEADER;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
