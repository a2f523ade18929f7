import type { RetentionRule, TimeFormat } from "./options.ts";

/** Quotes an SQL identifier (`"name"`, inner quotes doubled). Names are also checked against IDENTIFIER_PATTERN. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Milliseconds since 1970 of the unix epoch expressed as a julian day. */
const JULIAN_EPOCH = 2440587.5;

/**
 * SQL expression giving `column` as milliseconds since 1970, or NULL when the value does not fit `format`
 * (so that a value of the wrong type is never compared, hence never removed).
 */
export function timeMsExpression(column: string, format: TimeFormat): string {
  const col = column;
  const isNumber = `typeof(${col}) IN ('integer', 'real')`;
  const fromText = `CASE WHEN typeof(${col}) = 'text' THEN (julianday(${col}) - ${JULIAN_EPOCH}) * 86400000.0 END`;
  switch (format) {
    case "unix-s":
      return `(CASE WHEN ${isNumber} THEN ${col} * 1000.0 END)`;
    case "unix-ms":
      return `(CASE WHEN ${isNumber} THEN ${col} * 1.0 END)`;
    case "iso8601":
      return `(${fromText})`;
    case "auto":
      return `(CASE WHEN ${isNumber} THEN (CASE WHEN abs(${col}) >= 1e11 THEN ${col} * 1.0 ELSE ${col} * 1000.0 END) ELSE ${fromText} END)`;
  }
}

/** The row-count cutoff: rows ordered after (`time`, `rowid`) — older, or as old with a lower rowid — are beyond `maxRows`. */
export interface CountCutoff {
  time: number;
  rowid: number;
}

/**
 * Builds the WHERE clause (without `WHERE`) that selects rows the rule removes, with named parameters
 * `$ageCutoff`, `$countTime`, `$countRowid` and `$t0..$tN` for the terminal values. Identifiers are quoted;
 * every value is a bound parameter.
 */
export function retentionPredicate(rule: RetentionRule, rowid: string, hasAge: boolean, hasCount: boolean): string {
  const status = quoteIdentifier(rule.statusColumn);
  const time = timeMsExpression(quoteIdentifier(rule.timeColumn), rule.timeFormat);
  const terminal = rule.terminal.map((_, i) => `$t${i}`).join(", ");
  const rules: string[] = [];
  if (hasAge) rules.push(`${time} < $ageCutoff`);
  if (hasCount) rules.push(`${time} < $countTime OR (${time} = $countTime AND ${rowid} < $countRowid)`);
  const which = rules.length > 0 ? rules.map((r) => `(${r})`).join(" OR ") : "0";
  return `${status} IN (${terminal}) AND ${time} IS NOT NULL AND (${which})`;
}

/** Named parameters for the terminal values of {@link retentionPredicate}. */
export function terminalParameters(rule: RetentionRule): Record<string, string | number> {
  return Object.fromEntries(rule.terminal.map((value, i) => [`t${i}`, value]));
}
