import type { Pool, PoolClient } from "pg";
import { UsageError } from "@reclaim/core";
import type { CdnUrlsColumn } from "./options.ts";

/** Quotes an identifier for SQL (`"a""b"`); every table and column name goes through it. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `name` or `schema.name` as config gives them -> parts. */
export function splitRelation(name: string): { schema: string | undefined; table: string } {
  const dot = name.indexOf(".");
  return dot < 0 ? { schema: undefined, table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

/** What kind of value a column holds. */
export type ColumnKind = "text" | "json" | "jsonb";

/** A configured column, checked against the catalog. All SQL pieces are quoted identifiers or catalog type names. */
export interface ColumnTarget {
  /** As configured: `table.column`. */
  label: string;
  /** The table as configured (the `table` metric label). */
  table: string;
  column: string;
  /** `"schema"."table"`, quoted. */
  relation: string;
  /** Quoted column. */
  col: string;
  /** Quoted key column. */
  key: string;
  /** The key's type as `format_type` spells it (catalog output, used for an array cast). */
  keyType: string;
  kind: ColumnKind;
  /** Planner's row estimate (`reltuples`), for the progress bar. */
  estimatedRows: number;
}

/**
 * Checks every configured column against the catalog before anything is written: the table exists, the column
 * exists and is text/varchar/json/jsonb, the key exists, is not null and has a unique index on it alone. Throws a
 * {@link UsageError} naming the first problem.
 */
export async function resolveColumns(db: Pool | PoolClient, columns: readonly CdnUrlsColumn[]): Promise<ColumnTarget[]> {
  const targets: ColumnTarget[] = [];
  for (const entry of columns) {
    const { schema, table } = splitRelation(entry.table);
    const { rows: relations } = await db.query<{ oid: number; nspname: string; relname: string; reltuples: number }>(
      `SELECT c.oid::int AS oid, n.nspname, c.relname, c.reltuples::float8 AS reltuples
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = to_regclass(CASE WHEN $1::text IS NULL THEN quote_ident($2) ELSE quote_ident($1) || '.' || quote_ident($2) END)
          AND c.relkind IN ('r', 'p')`,
      [schema ?? null, table],
    );
    const relation = relations[0];
    if (!relation) throw new UsageError(`cdn-urls: table ${JSON.stringify(entry.table)} does not exist`);
    const attribute = async (name: string) =>
      (
        await db.query<{ attnum: number; attnotnull: boolean; type: string; base: string }>(
          `SELECT a.attnum::int AS attnum, a.attnotnull, format_type(a.atttypid, NULL) AS type,
                  format_type(COALESCE(NULLIF(t.typbasetype, 0), a.atttypid), NULL) AS base
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
          [relation.oid, name],
        )
      ).rows[0];
    const column = await attribute(entry.column);
    if (!column) throw new UsageError(`cdn-urls: column ${JSON.stringify(entry.column)} does not exist in table ${JSON.stringify(entry.table)}`);
    const kind: ColumnKind | undefined =
      column.base === "text" || column.base === "character varying" ? "text" : column.base === "json" ? "json" : column.base === "jsonb" ? "jsonb" : undefined;
    if (!kind) throw new UsageError(`cdn-urls: column ${entry.table}.${entry.column} is ${column.type}: only text, varchar, json and jsonb columns can be cleaned`);
    const key = await attribute(entry.key);
    if (!key) throw new UsageError(`cdn-urls: key column ${JSON.stringify(entry.key)} does not exist in table ${JSON.stringify(entry.table)}`);
    const { rows: unique } = await db.query(
      `SELECT 1 FROM pg_index WHERE indrelid = $1 AND indisunique AND indnkeyatts = 1 AND indkey[0] = $2 AND indpred IS NULL AND indexprs IS NULL LIMIT 1`,
      [relation.oid, key.attnum],
    );
    if (unique.length === 0 || !key.attnotnull) {
      throw new UsageError(`cdn-urls: key ${entry.table}.${entry.key} is not unique and not null (it needs a primary key or a unique index on it alone, and NOT NULL)`);
    }
    targets.push({
      label: `${entry.table}.${entry.column}`,
      table: entry.table,
      column: entry.column,
      relation: `${quoteIdent(relation.nspname)}.${quoteIdent(relation.relname)}`,
      col: quoteIdent(entry.column),
      key: quoteIdent(entry.key),
      keyType: key.type,
      kind,
      estimatedRows: Math.max(0, relation.reltuples),
    });
  }
  return targets;
}

/** A POSIX regular expression (for `~*`) that every value holding a URL on `hosts` matches (a cheap pre-filter). */
export function candidatePattern(hosts: readonly string[], kind: ColumnKind): string {
  const names = hosts.map((entry) =>
    entry.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/[/?#].*$/s, "").replace(/:\d*$/, "").replace(/\.$/, "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
  );
  const alternation = `(${names.join("|")})\\.?`;
  return kind === "text" ? `^([a-z]+:)?//${alternation}([:/?#]|$)` : `(//|\\\\/\\\\/)${alternation}([:/?#"\\\\]|$)`;
}

/** `SET LOCAL` of both timeouts for the current transaction (values are integers in ms, never user text). */
export async function setTimeouts(client: PoolClient, lockTimeout: number, statementTimeout: number): Promise<void> {
  await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeout))}; SET LOCAL statement_timeout = ${Math.max(1, Math.round(statementTimeout))}`);
}

/** Columns grouped by table and key, in the order they were configured, so each table is walked once. */
export function groupByTable(targets: readonly ColumnTarget[]): ColumnTarget[][] {
  const groups = new Map<string, ColumnTarget[]>();
  for (const target of targets) {
    const id = `${target.relation} ${target.key}`;
    const group = groups.get(id);
    if (group) group.push(target);
    else groups.set(id, [target]);
  }
  return [...groups.values()];
}
