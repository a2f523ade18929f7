const OFF = new Set(["false", "0", "no", "off"]);

/**
 * The kill switch: `RECLAIM_ENABLED=false` (or `GC_ENABLED=false`, the seed's name) disables every hook.
 * `0`, `no` and `off` count as false too.
 *
 * @example
 * ```ts
 * if (!isReclaimEnabled()) console.log("reclaim is switched off");
 * ```
 */
export function isReclaimEnabled(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  for (const name of ["RECLAIM_ENABLED", "GC_ENABLED"]) {
    const value = env[name]?.trim().toLowerCase();
    if (value !== undefined && OFF.has(value)) return false;
  }
  return true;
}
