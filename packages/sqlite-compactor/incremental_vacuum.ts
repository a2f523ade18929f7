import type { Database } from "better-sqlite3";

/**
 * For a service that creates its own database: sets `auto_vacuum = INCREMENTAL` while the database has no tables
 * yet (a VACUUM of an empty file is instant), so the compactor never needs the one-time conversion. Returns false,
 * changing nothing, when the database already has tables.
 *
 * @example
 * ```ts
 * const db = new Database("/data/app.db");
 * enableIncrementalVacuum(db);
 * db.exec("CREATE TABLE IF NOT EXISTS jobs (...)");
 * ```
 */
export function enableIncrementalVacuum(db: Database): boolean {
  if (db.pragma("auto_vacuum", { simple: true }) === 2) return true;
  const tables = (db.prepare("SELECT count(*) AS n FROM main.sqlite_schema").get() as { n: number }).n;
  if (tables > 0) return false;
  db.pragma("auto_vacuum = INCREMENTAL");
  db.exec("VACUUM");
  return true;
}
