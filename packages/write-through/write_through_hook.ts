import { join, resolve } from "node:path";
import { parseOptions, type Hook, type HookIdentity, type RunContext, type RunReport } from "@reclaim/core";
import { Registry } from "prom-client";
import type { z } from "zod";
import { parseRemoteBase, trustedUrl, urlForPath } from "./_remote_url.ts";
import { readJournal, readState, trimJournal, writeState, type PendingEntry } from "./_journal.ts";
import { isRefusal, recordOutcomes, summarize, verifyAndDelete, type PublishedFile, type VerifyCheck, type VerifyOutcome } from "./verify_upload.ts";
import { writeThroughOptionsSchema, type WriteThroughOptions } from "./write_through_options.ts";

/** Options of {@link createWriteThroughHook}: the config-file options plus runtime objects. */
export type WriteThroughHookOptions = z.input<typeof writeThroughOptionsSchema> & HookIdentity;

/** What one pass of the write-through hook reports. */
export interface WriteThroughRunReport extends RunReport {
  removedByKind: { write_through: number };
  /** New journal lines read this pass. */
  read: number;
  /** Lines that were not valid entries (not JSON, no path, no URL and no `remote.baseUrl`, URL outside `remote.baseUrl`). */
  invalid: number;
  /** Entries whose remote copy could not be verified yet and will be retried. */
  pending: number;
  /** Entries given up on after `retryFor` (their local copies stay). */
  dropped: number;
  /** Whether the fully consumed journal was truncated. */
  trimmed: boolean;
  /** The journal was replaced or truncated by someone else: it was read from the start. */
  restarted: boolean;
  /** Files kept this pass, with the reason (at most 20). */
  kept: Array<{ path: string; reason: string }>;
  /** Entries naming a file write-through never deletes (outside the media folders, protected, the journal, a symlink...), with the reason (at most 20). */
  refused: Array<{ path: string; reason: string }>;
  /** Number of such entries this pass. */
  refusedCount: number;
  /** Deletions (would-deletions in a dry run) by the check the remote copy passed: a content checksum, or the size only. */
  checks: { checksum: number; size: number };
  /** Files deleted this pass with the check each passed and how (at most 20). */
  deleted: Array<{ path: string; check: VerifyCheck; detail: string }>;
  /** Why nothing was done, when so. */
  reason?: string;
}

const MAX_PENDING = 10_000;

/**
 * Creates the `write-through` hook (span `verify upload`): each pass reads the publish journal
 * (`<root>/.reclaim/published.jsonl`, one `{"path","url"}` line per uploaded file, see `recordPublished`) from
 * its durable position, verifies each remote copy with `HEAD` (200, `Content-Length` equal to the local size and,
 * with `verify: "checksum"`, a content checksum the remote states equal to the local file's) and deletes the
 * local copy. Entries that cannot be verified yet are retried for `retryFor`; the position and
 * the retries are kept in `<journal>.state` (written atomically); a fully consumed journal is truncated once it
 * reaches `trimBytes`. Does nothing while `remote.enabled` is false.
 *
 * @example
 * ```ts
 * const hook = createWriteThroughHook({ root: "/app/.data", remote: { enabled: true, baseUrl: "https://cdn.example/" }, registry });
 * createRunner(hook, { interval: 300_000, registry, logger }).start();
 * ```
 */
export function createWriteThroughHook(options: WriteThroughHookOptions): Hook<WriteThroughRunReport> {
  const { registry = new Registry(), name: hook = "write-through", ...rest } = options;
  const opts: Readonly<WriteThroughOptions> = parseOptions("write-through", writeThroughOptionsSchema, rest);
  const root = resolve(opts.root);
  const journal = join(root, opts.journal);
  const base = opts.remote.baseUrl === undefined ? undefined : parseRemoteBase(opts.remote.baseUrl);

  function toEntry(line: string): PublishedFile | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return null;
    }
    if (parsed === null || typeof parsed !== "object") return null;
    const { path, url } = parsed as { path?: unknown; url?: unknown };
    if (typeof path !== "string" || path === "") return null;
    if (url === undefined || url === null || url === "") {
      if (!base) return null;
      // Re-checked: `..` segments in the path must not lead the URL out of the base.
      const derived = trustedUrl(urlForPath(base, path), base);
      return derived === null ? null : { path, url: derived };
    }
    if (typeof url !== "string") return null;
    if (!base) return { path, url };
    const trusted = trustedUrl(url, base);
    return trusted === null ? null : { path, url: trusted };
  }

  async function run(ctx: RunContext): Promise<WriteThroughRunReport> {
    const report: WriteThroughRunReport = { removed: 0, reclaimedBytes: 0, removedByKind: { write_through: 0 }, read: 0, invalid: 0, pending: 0, dropped: 0, trimmed: false, restarted: false, kept: [], refused: [], refusedCount: 0, checks: { checksum: 0, size: 0 }, deleted: [] };
    if (!opts.remote.enabled) {
      report.reason = "remote.enabled is false";
      return report;
    }
    const now = ctx.now();
    const state = await readState(journal);
    const read = await readJournal(journal, state, opts.maxEntriesPerPass);
    const fresh: PendingEntry[] = [];
    if (read) {
      report.read = read.lines.length;
      report.restarted = read.restarted;
      for (const line of read.lines) {
        if (line.trim() === "") continue;
        const entry = toEntry(line);
        if (entry) fresh.push({ ...entry, attempts: 0, firstSeenAt: now });
        else report.invalid++;
      }
    }
    const entries = [...state.pending, ...fresh];
    const outcomes: VerifyOutcome[] = entries.length > 0 ? await verifyAndDelete(entries, { root, timeoutMs: opts.timeout, concurrency: opts.concurrency, dryRun: ctx.dryRun, mediaDirs: opts.mediaDirs, protect: opts.protect, journal: opts.journal, verify: opts.verify, ...(opts.remote.baseUrl === undefined ? {} : { baseUrl: opts.remote.baseUrl }) }) : [];
    const pending: PendingEntry[] = [];
    outcomes.forEach((o, i) => {
      if (isRefusal(o)) {
        report.refusedCount++;
        if (report.refused.length < 20) report.refused.push({ path: o.path, reason: o.reason ?? "" });
      }
      if ((o.outcome === "deleted" || o.outcome === "would-delete") && o.check) {
        report.checks[o.check]++;
        if (report.deleted.length < 20) report.deleted.push({ path: o.path, check: o.check, detail: o.checkDetail ?? "" });
      }
      if (o.outcome !== "kept") return;
      const entry = entries[i]!;
      if (report.kept.length < 20) report.kept.push({ path: o.path, reason: o.reason ?? "" });
      if (o.retry && now - entry.firstSeenAt < opts.retryFor) pending.push({ ...entry, attempts: entry.attempts + 1 });
      else report.dropped++;
    });
    if (pending.length > MAX_PENDING) report.dropped += pending.splice(0, pending.length - MAX_PENDING).length;
    report.pending = pending.length;
    const summary = summarize(outcomes);
    report.removed = summary.deleted;
    report.reclaimedBytes = summary.bytes;
    report.removedByKind = { write_through: summary.deleted };
    recordOutcomes(registry, hook, outcomes, ctx.dryRun);

    if (!ctx.dryRun && read) {
      const next = { ino: read.ino, offset: read.offset, pending };
      await writeState(journal, next);
      if (read.offset >= opts.trimBytes) {
        // Position 0 is recorded first: a crash before the truncation only makes the next pass re-verify
        // entries, which is harmless (files already gone are skipped).
        await writeState(journal, { ...next, offset: 0 });
        report.trimmed = await trimJournal(journal, read.offset, opts.trimBytes);
        if (!report.trimmed) await writeState(journal, next);
      }
    } else if (!ctx.dryRun && (state.pending.length > 0 || pending.length > 0)) {
      await writeState(journal, { ...state, pending });
    }

    if (report.invalid > 0) ctx.log.warn({ invalid: report.invalid, journal: opts.journal }, "skipped journal lines that are not valid entries");
    if (report.refusedCount > 0) ctx.log.warn({ refused: report.refusedCount, examples: report.refused.slice(0, 5) }, "skipped journal entries naming files write-through never deletes");
    if (report.dropped > 0) ctx.log.warn({ dropped: report.dropped, retryFor: opts.retryFor }, "gave up verifying some remote copies; the local copies stay");
    if (summary.deleted > 0) ctx.log.info({ deleted: summary.deleted, bytes: summary.bytes, pending: report.pending, dryRun: ctx.dryRun }, ctx.dryRun ? "would delete local copies of verified uploads" : "deleted local copies of verified uploads");
    ctx.span.setAttributes({
      "reclaim.write_through.read": report.read,
      "reclaim.write_through.deleted": summary.deleted,
      "reclaim.write_through.pending": report.pending,
      "reclaim.write_through.invalid": report.invalid,
      "reclaim.write_through.refused": report.refusedCount,
      "reclaim.write_through.trimmed": report.trimmed,
      "reclaim.write_through.verified_by_checksum": report.checks.checksum,
      "reclaim.write_through.verified_by_size": report.checks.size,
    });
    return report;
  }

  return { name: hook, type: "write-through", spanName: "verify upload", kind: "write_through", options: opts, run };
}
