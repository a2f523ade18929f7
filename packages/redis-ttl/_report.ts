import type { RunReport } from "@reclaim/core";

/** What one policy did in a pass. */
export interface PolicyReport {
  /** The policy's pattern (also its `policy` metric label). */
  match: string;
  mode: "missing" | "cap";
  ttlMs: number;
  /** Keys of this pass that took this policy. */
  matched: number;
  /** Of those, keys that had no TTL. */
  withoutTtl: number;
  /** TTLs set or shortened; in a dry run, that would be. */
  changed: number;
  /** Dry run only: the keys it would change (at most `dryRunKeys`). */
  keys?: string[];
}

/** What one index rule did in a pass. */
export interface IndexReport {
  key: string;
  /** `set`, `zset`, `none` (no such key) or another type (left alone, with a warning). */
  type: string;
  /** Members read. */
  scanned: number;
  /** Members whose record was gone, removed (in a dry run: that would be removed). */
  removed: number;
  /** Dry run only: the members it would remove (at most `dryRunKeys`). */
  members?: string[];
}

/** What one orphan rule did in a pass. */
export interface OrphanReport {
  match: string;
  parent: string;
  /** Keys seen with their parent gone. */
  orphaned: number;
  /** Seen orphaned for the first time, or not yet for `minAge`: kept for now. */
  pending: number;
  /** Deleted (in a dry run: that would be deleted). */
  deleted: number;
  /** Dry run only: the keys it would delete (at most `dryRunKeys`). */
  keys?: string[];
}

/** What one pass of the redis-ttl hook reports (`reclaim run redis-ttl` prints it). */
export interface RedisTtlReport extends RunReport {
  dryRun: boolean;
  /** Keys returned by SCAN in this pass (every master). */
  scanned: number;
  /** Scan cycle this pass worked on. */
  cycle: number;
  /** True when this pass finished the cycle (every master and index scanned to the end). */
  cycleComplete: boolean;
  /** True when the pass stopped on its key or time budget; the next pass goes on from there. */
  budgetExhausted: boolean;
  policies: PolicyReport[];
  /** Stream entries trimmed (in a dry run: that would be, about), and the streams concerned. */
  streams: { entries: number; streams: number; keys?: string[] };
  indexes: IndexReport[];
  orphans: OrphanReport[];
  /** `maxmemory-policy`, or null when neither CONFIG nor INFO would say. */
  maxmemoryPolicy: string | null;
  /** INFO used_memory summed over masters, or null when INFO is forbidden. */
  usedMemoryBytes: number | null;
  /** Per-key commands Redis refused (WRONGTYPE, MOVED, ...): skipped. */
  keyErrors: number;
}
