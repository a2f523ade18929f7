import { OptionRangeError } from "@reclaim/core";
import type { Database } from "better-sqlite3";
import type { RetentionRule } from "./options.ts";
import { quoteIdentifier } from "./_sql.ts";

/** A retention rule checked against the database: its table's columns and the name that reaches its rowid. */
export interface TableShape {
  rule: RetentionRule;
  /** Index of the rule in `tables`, for error messages. */
  index: number;
  /** Column names, in table order (generated columns excluded). */
  columns: string[];
  /** `rowid`, `_rowid_` or `oid`: whichever no column shadows. */
  rowid: string;
}

const HOOK = "sqlite-compactor";

/** Throws an {@link OptionRangeError} when two rules name the same table (names compare without case, as SQLite's). */
export function checkDistinctTables(rules: readonly RetentionRule[]): void {
  const seen = new Set<string>();
  rules.forEach((rule, index) => {
    if (seen.has(rule.table.toLowerCase())) throw new OptionRangeError(HOOK, `tables[${index}].table`, "is listed twice", rule.table);
    seen.add(rule.table.toLowerCase());
  });
}

/**
 * Checks every rule against the schema of `db` (PRAGMA table_info): the table exists, is a rowid table, and has the
 * time and status columns. Throws an {@link OptionRangeError} naming the field and the value otherwise.
 */
export function checkTables(db: Database, rules: readonly RetentionRule[], schema = "main"): TableShape[] {
  checkDistinctTables(rules);
  return rules.map((rule, index) => {
    const field = `tables[${index}]`;
    const master = db
      .prepare(`SELECT type, sql FROM ${quoteIdentifier(schema)}.sqlite_schema WHERE name = ? COLLATE NOCASE AND type IN ('table', 'view')`)
      .get(rule.table) as { type: string; sql: string | null } | undefined;
    if (!master || master.type !== "table") {
      throw new OptionRangeError(HOOK, `${field}.table`, "must name an existing table of the database", rule.table);
    }
    const info = db.prepare(`SELECT name FROM pragma_table_info(?, ?)`).all(rule.table, schema) as { name: string }[];
    const columns = info.map((c) => c.name);
    const lower = new Set(columns.map((c) => c.toLowerCase()));
    for (const key of ["timeColumn", "statusColumn"] as const) {
      if (!lower.has(rule[key].toLowerCase())) {
        throw new OptionRangeError(HOOK, `${field}.${key}`, `must name a column of table ${rule.table} (columns: ${columns.join(", ")})`, rule[key]);
      }
    }
    const rowid = ["rowid", "_rowid_", "oid"].find((name) => !lower.has(name));
    if (!rowid || /\bWITHOUT\s+ROWID\b/i.test(master.sql ?? "")) {
      throw new OptionRangeError(HOOK, `${field}.table`, "must be a rowid table (WITHOUT ROWID tables are not supported)", rule.table);
    }
    return { rule, index, columns, rowid };
  });
}
