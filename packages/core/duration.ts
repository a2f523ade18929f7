const UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/**
 * Parses a duration to milliseconds: a number of milliseconds, a numeric string, or a number with a unit
 * (`ms`, `s`, `m`, `h`, `d`, `w`). Throws a `RangeError` (code `RECLAIM_ERR_INVALID_DURATION`) otherwise.
 *
 * @example
 * ```ts
 * parseDuration("90s"); // 90000
 * parseDuration("7d");  // 604800000
 * parseDuration(1500);  // 1500
 * ```
 */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value;
  } else {
    const text = value.trim();
    if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text);
    const match = PATTERN.exec(text);
    if (match) return Math.round(Number(match[1]) * UNITS[match[2] as string]!);
  }
  throw Object.assign(
    new RangeError(`${JSON.stringify(value)} is not a duration: use milliseconds or a number with ms, s, m, h, d or w (e.g. "90s", "7d")`),
    { code: "RECLAIM_ERR_INVALID_DURATION" },
  );
}

/**
 * Formats milliseconds as the largest whole unit that fits, for logs and status pages.
 *
 * @example
 * ```ts
 * formatDuration(604_800_000); // "7d"
 * formatDuration(90_000);      // "90s"
 * ```
 */
export function formatDuration(ms: number): string {
  for (const unit of ["w", "d", "h", "m", "s"] as const) {
    const size = UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
