import Database from "better-sqlite3";

/** A row of the test `jobs` table. */
export interface JobRow {
  id: number;
  status: string;
  created_at: number | string | null;
  payload: string;
}

/** How to build a test database. */
export interface FixtureOptions {
  journal?: "wal" | "delete";
  autoVacuum?: "none" | "incremental";
  /** Payload bytes per row. @default 100 */
  payloadBytes?: number;
}

/** Creates `path` with a `jobs (id INTEGER PRIMARY KEY, status, created_at, payload)` table holding `rows`. */
export function createJobsDatabase(path: string, rows: readonly Omit<JobRow, "payload">[], options: FixtureOptions = {}): void {
  const db = new Database(path);
  try {
    if (options.autoVacuum === "incremental") db.pragma("auto_vacuum = INCREMENTAL");
    db.pragma(`journal_mode = ${options.journal ?? "wal"}`);
    db.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at, payload TEXT)");
    const insert = db.prepare("INSERT INTO jobs (id, status, created_at, payload) VALUES (?, ?, ?, ?)");
    const size = options.payloadBytes ?? 100;
    db.transaction(() => {
      for (const row of rows) insert.run(row.id, row.status, row.created_at, payloadFor(row.id, size));
    })();
  } finally {
    db.close();
  }
}

/** Deterministic JSON payload of about `bytes` bytes for row `id`. */
export function payloadFor(id: number, bytes: number): string {
  const filler = "x".repeat(Math.max(0, bytes - 40));
  return JSON.stringify({ id, stderr: filler });
}

/** All rows of `table` in `path`, by id. */
export function readRows(path: string, table = "jobs", schema = "main"): Map<number, JobRow> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare(`SELECT id, status, created_at, payload FROM ${schema}.${table}`).all() as JobRow[];
    return new Map(rows.map((row) => [row.id, row]));
  } finally {
    db.close();
  }
}

/** Runs `sql` on `path` and returns all rows. */
export function query<T>(path: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(path);
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** `PRAGMA integrity_check` of `path`: "ok" when sound. */
export function integrityCheck(path: string): string {
  const db = new Database(path);
  try {
    return (db.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check).join("; ");
  } finally {
    db.close();
  }
}

export const DAY = 86_400_000;
