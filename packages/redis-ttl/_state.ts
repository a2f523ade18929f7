import type { RedisClient } from "./_redis.ts";

/** Where a scan cycle stands: kept in Redis (so replicas and the next pass go on from it), or in memory in a dry run. */
export interface ScanState {
  v: 1;
  /** Cycle number, +1 each time every master and every index has been scanned to the end. */
  cycle: number;
  /** When this cycle started (ms). */
  startedAt: number;
  /** SCAN cursor per master (`host:port`); a master not listed starts at 0. */
  nodes: Record<string, string>;
  /** Masters scanned to the end in this cycle. */
  doneNodes: string[];
  /** INFO run_id of each master when its cursor was saved (a restarted server invalidates the cursor). */
  runIds?: Record<string, string>;
  /** SSCAN/ZSCAN cursor per index key. */
  indexes: Record<string, string>;
  /** Indexes scanned to the end in this cycle. */
  doneIndexes: string[];
  /** Keys found without a TTL in this cycle, per policy (same order as the options). */
  withoutTtl: number[];
}

/** How long the scan state survives without a pass touching it. */
export const STATE_TTL_MS = 7 * 86_400_000;

/** Prefix of every key the hook owns. Keys under `reclaim:` are never matched by any rule. */
export const OWNED_PREFIX = "reclaim:";

/** `reclaim:redis-ttl:<name>:` with braces dropped from the name, so its keys never carry a hash tag of their own. */
export function ownedPrefix(name: string): string {
  return `${OWNED_PREFIX}redis-ttl:${name.replace(/[{}]/g, "")}:`;
}

export function freshState(cycle: number, policies: number, now: number): ScanState {
  return { v: 1, cycle, startedAt: now, nodes: {}, doneNodes: [], indexes: {}, doneIndexes: [], withoutTtl: new Array<number>(policies).fill(0) };
}

export async function loadState(client: RedisClient, key: string, policies: number, now: number): Promise<ScanState> {
  const raw = await client.get(key);
  if (raw) {
    try {
      const state = JSON.parse(raw) as ScanState;
      if (state.v === 1 && typeof state.cycle === "number") {
        if (!Array.isArray(state.withoutTtl) || state.withoutTtl.length !== policies) state.withoutTtl = new Array<number>(policies).fill(0);
        return state;
      }
    } catch {
      // A state we cannot read starts a new cycle.
    }
  }
  return freshState(0, policies, now);
}

export async function saveState(client: RedisClient, key: string, state: ScanState): Promise<void> {
  await client.set(key, JSON.stringify(state), "PX", STATE_TTL_MS);
}
