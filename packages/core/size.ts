const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};
const PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i;

/**
 * Parses a size to bytes: a number of bytes, a numeric string, or a number with a unit (`B`, `KB`, `MB`, `GB`,
 * `TB`, `KiB`, `MiB`, `GiB`, `TiB`; case-insensitive). Throws a `RangeError` (code `RECLAIM_ERR_INVALID_SIZE`).
 *
 * @example
 * ```ts
 * parseSize("50MiB"); // 52428800
 * parseSize(4096);    // 4096
 * ```
 */
export function parseSize(value: string | number): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
  } else {
    const text = value.trim();
    if (/^\d+$/.test(text)) return Number(text);
    const match = PATTERN.exec(text);
    const unit = match && UNITS[match[2]!.toLowerCase()];
    if (match && unit) return Math.round(Number(match[1]) * unit);
  }
  throw Object.assign(
    new RangeError(`${JSON.stringify(value)} is not a size: use bytes or a number with B, KB, MB, GB, KiB, MiB or GiB (e.g. "50MiB")`),
    { code: "RECLAIM_ERR_INVALID_SIZE" },
  );
}

/**
 * Formats bytes with binary units for people: `"1.5 MiB"`, `"812 B"`.
 *
 * @example
 * ```ts
 * formatSize(52428800); // "50.0 MiB"
 * ```
 */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let index = 0;
  while (Math.abs(value) >= 1024 && index < units.length - 1) {
    value /= 1024;
    index++;
  }
  return index === 0 ? `${value} B` : `${value.toFixed(1)} ${units[index]}`;
}
