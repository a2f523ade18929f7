import { resolve } from "node:path";
import { parseOptions, type Hook, type HookIdentity, type ResourceFigure, type RunContext, type RunReport } from "@reclaim/core";
import { Registry } from "prom-client";
import type { z } from "zod";
import { diskOptionsSchema, type DiskOptions } from "./disk_options.ts";
import { forecastSecondsUntilFull, readDiskUsage, type UsageSample } from "./disk_usage.ts";
import { pruneReferences, readReferences, type StoreProblem } from "./references.ts";
import { diskMetrics } from "./_disk_metrics.ts";
import { compileProtect, resolveMediaPlan, type MediaPlan } from "./_media_plan.ts";
import { relievePressure, type PressureOutcome } from "./_pressure.ts";
import { defaultScanThreads, scanTrees, type ScanTotals } from "./_scan.ts";
import { chunkConfig, type WalkSettings } from "./_scan_config.ts";

/** Options of {@link createDiskHook}: the config-file options plus runtime objects. */
export type DiskHookOptions = z.input<typeof diskOptionsSchema> & HookIdentity & {
  /** Most files a pressure-sweep round keeps in memory before deleting (bounds memory). @default 100000 */
  pressureBatchSize?: number;
};

/** What the age sweep did in one pass. */
export interface AgeSweepReport {
  ran: boolean;
  /** Why it did not run. */
  reason?: string;
  removed: number;
  bytes: number;
  skipped: ScanTotals["skipped"];
  errors: number;
}

/** What one pass of the disk hook reports (`reclaim run disk`, `status().lastRun.report`). */
export interface DiskRunReport extends RunReport {
  removedByKind: { age: number; pressure: number };
  /** Real path of the root; `rootMissing` when it does not exist (nothing to do). */
  root: string;
  rootMissing?: true;
  usedRatioBefore: number;
  usedRatioAfter: number;
  freeBytes: number;
  age: AgeSweepReport;
  pressure: ({ triggered: true } & PressureOutcome) | { triggered: false; reason: string };
  references: { cleared: number; stores: Record<string, number>; problems: StoreProblem[] };
  refusedMediaDirs: Array<{ dir: string; reason: string }>;
  forecastSeconds: number;
}

/**
 * Creates the `disk` hook (span `sweep disk`): per pass, an age sweep of the media folders (when a remote holds
 * copies, or always if configured), then a pressure sweep when `statfs` says the root's filesystem is above
 * `pressure.high`, deleting the oldest eligible files down to `pressure.low`; when there is no remote copy,
 * JSON store fields that pointed at deleted files are cleared. Never follows symlinks, never leaves the root or
 * its filesystem, never deletes protected, recently modified or reclaim temp files. Throws an option error
 * naming the field for bad options.
 *
 * @example
 * ```ts
 * const hook = createDiskHook({ root: "/app/.data", remote: { enabled: true }, registry });
 * createRunner(hook, { interval: 3_600_000, registry, logger }).start();
 * ```
 */
export function createDiskHook(options: DiskHookOptions): Hook<DiskRunReport> {
  const { registry = new Registry(), name: hook = "disk", pressureBatchSize = 100_000, ...rest } = options;
  const opts: Readonly<DiskOptions> = parseOptions("disk", diskOptionsSchema, rest);
  const root = resolve(opts.root);
  const threads = opts.threads ?? defaultScanThreads();
  const metrics = diskMetrics(registry, hook, opts.mount, root);
  const protect = compileProtect(opts.protect);
  const samples: UsageSample[] = [];
  let lastForecast = -1;
  const ageEnabled = opts.remote.enabled || !opts.remote.requireForAgeSweep;
  const pruneEnabled = !opts.remote.enabled && opts.references.stores.length > 0;

  const ageSweep = async (pass: Pass): Promise<AgeSweepReport> => {
    if (!ageEnabled) return { ...notRun(), reason: "remote.enabled is false (set remote.requireForAgeSweep to false to sweep by age anyway)" };
    const { ctx } = pass;
    const config = chunkConfig("age", { ...pass.walk, minAge: opts.maxAge, referenced: pass.referenced });
    const totals = await scanTrees(pass.plan.mediaDirs, config, {
      threads,
      signal: ctx.signal,
      onResult: (result) => {
        for (const rel of result.deletedReferenced) pass.deletedReferenced.add(rel);
      },
    });
    if (totals.files > 0 || totals.errors > 0) {
      ctx.log.info({ removed: totals.files, bytes: totals.bytes, errors: totals.errors, errorSamples: totals.errorSamples, dryRun: ctx.dryRun }, ctx.dryRun ? "age sweep would delete media files" : "age sweep deleted media files");
    }
    return { ran: true, removed: totals.files, bytes: totals.bytes, skipped: totals.skipped, errors: totals.errors };
  };

  const pressureSweep = async (pass: Pass): Promise<DiskRunReport["pressure"]> => {
    if (!opts.pressure.enabled) return { triggered: false, reason: "pressure.enabled is false" };
    const usage = readDiskUsage(pass.plan.root);
    if (usage.usedRatio <= opts.pressure.high) {
      return { triggered: false, reason: `used ratio ${usage.usedRatio.toFixed(3)} is at or below pressure.high ${opts.pressure.high}` };
    }
    const { ctx, plan } = pass;
    const outcome = await relievePressure({
      root: plan.root,
      rootDev: plan.rootDev,
      mediaDirs: plan.mediaDirs,
      config: chunkConfig("collect", { ...pass.walk, minAge: opts.pressure.minAge }),
      threads,
      signal: ctx.signal,
      dryRun: ctx.dryRun,
      low: opts.pressure.low,
      batchLimit: pressureBatchSize,
      referenced: pass.referenced,
      usage,
    });
    for (const rel of outcome.deletedReferenced) pass.deletedReferenced.add(rel);
    if (!ctx.dryRun) metrics.pressureSweeps.inc({ hook, outcome: outcome.reachedLow ? "relieved" : "insufficient" });
    const fields = {
      removed: outcome.removed,
      bytes: outcome.bytes,
      usedRatioBefore: outcome.usedRatioBefore,
      usedRatioAfter: outcome.usedRatioAfter,
      high: opts.pressure.high,
      low: opts.pressure.low,
      reachedLow: outcome.reachedLow,
      reason: outcome.reason,
      dryRun: ctx.dryRun,
    };
    if (outcome.reachedLow) ctx.log.info(fields, "pressure sweep brought usage to the low watermark");
    else ctx.log.warn(fields, "pressure sweep could not bring usage to the low watermark");
    return { triggered: true, ...outcome, deletedReferenced: [] };
  };

  const clearReferences = async (pass: Pass, problems: StoreProblem[]): Promise<DiskRunReport["references"]> => {
    const { ctx } = pass;
    const references: DiskRunReport["references"] = { cleared: 0, stores: {}, problems };
    if (pass.referenced && pass.deletedReferenced.size > 0) {
      const pruned = await pruneReferences(pass.plan.root, pass.deletedReferenced, { ...opts.references, dryRun: ctx.dryRun });
      references.cleared = pruned.cleared;
      references.stores = pruned.stores;
      references.problems.push(...pruned.problems);
      if (pruned.cleared > 0) {
        if (!ctx.dryRun) metrics.referencesCleared.inc({ hook }, pruned.cleared);
        ctx.log.info({ cleared: pruned.cleared, stores: pruned.stores, dryRun: ctx.dryRun }, "cleared references to deleted files");
      }
    }
    for (const problem of references.problems) ctx.log.warn(problem, "JSON store left untouched");
    return references;
  };

  /** Counts what both sweeps removed, in the report and the byte counters. */
  const tally = (report: DiskRunReport, dryRun: boolean): void => {
    const pressure = report.pressure.triggered ? report.pressure : { removed: 0, bytes: 0 };
    report.removedByKind = { age: report.age.removed, pressure: pressure.removed };
    report.removed = report.age.removed + pressure.removed;
    report.reclaimedBytes = report.age.bytes + pressure.bytes;
    if (!dryRun) {
      if (report.age.bytes > 0) metrics.removedBytes.inc({ hook, kind: "age" }, report.age.bytes);
      if (pressure.bytes > 0) metrics.removedBytes.inc({ hook, kind: "pressure" }, pressure.bytes);
    }
  };

  /** Reads usage after the sweeps: report, forecast, gauges and span attributes. */
  const recordUsageAfter = (report: DiskRunReport, ctx: RunContext): void => {
    const after = readDiskUsage(report.root);
    report.usedRatioAfter = after.usedRatio;
    report.freeBytes = after.freeBytes;
    lastForecast = forecastSecondsUntilFull(samples, after.freeBytes);
    report.forecastSeconds = lastForecast;
    metrics.forecast.set({ hook, mount: opts.mount }, lastForecast);
    metrics.usedRatio.set({ hook, mount: opts.mount }, after.usedRatio);
    metrics.freeBytes.set({ hook, mount: opts.mount }, after.freeBytes);
    ctx.span.setAttributes({
      "reclaim.disk.mount": opts.mount,
      "reclaim.disk.used_ratio": report.usedRatioBefore,
      "reclaim.disk.used_ratio_after": report.usedRatioAfter,
      "reclaim.disk.age.removed": report.age.removed,
      "reclaim.disk.pressure.triggered": report.pressure.triggered,
      "reclaim.disk.pressure.removed": report.removedByKind.pressure,
      "reclaim.disk.references.cleared": report.references.cleared,
      "reclaim.disk.full_forecast_seconds": lastForecast,
    });
    if (report.pressure.triggered) ctx.span.setAttribute("reclaim.disk.pressure.reached_low", report.pressure.reachedLow);
  };

  async function run(ctx: RunContext): Promise<DiskRunReport> {
    const now = ctx.now();
    const report = emptyReport(root, lastForecast);
    const plan = await resolveMediaPlan(root, opts.mediaDirs);
    if (!plan) {
      ctx.log.warn({ root }, "disk root does not exist; nothing to sweep");
      return { ...report, rootMissing: true, pressure: { triggered: false, reason: "root does not exist" }, age: { ...report.age, reason: "root does not exist" } };
    }
    report.root = plan.root;
    report.refusedMediaDirs = plan.refused;
    for (const refused of plan.refused) ctx.log.warn({ dir: refused.dir, reason: refused.reason }, "media folder left alone");

    const usage = readDiskUsage(plan.root);
    report.usedRatioBefore = usage.usedRatio;
    samples.push({ at: now, usedBytes: usage.usedBytes });
    if (samples.length > opts.forecastSamples) samples.splice(0, samples.length - opts.forecastSamples);

    const refs = pruneEnabled ? await readReferences(plan.root, opts.references) : null;
    const walk: WalkSettings = { root: plan.root, rootDev: plan.rootDev, now, dryRun: ctx.dryRun, recentlyModified: opts.recentlyModified, timestamp: opts.timestamp, protect };
    const pass: Pass = { ctx, plan, walk, referenced: refs?.paths ?? null, deletedReferenced: new Set() };

    report.age = await ageSweep(pass);
    report.pressure = await pressureSweep(pass);
    report.references = await clearReferences(pass, refs?.problems ?? []);
    tally(report, ctx.dryRun);
    recordUsageAfter(report, ctx);
    return report;
  }

  return {
    name: hook,
    type: "disk",
    spanName: "sweep disk",
    kind: "file",
    options: opts,
    run,
    status() {
      try {
        const usage = readDiskUsage(root);
        const marks = [
          { label: "high", value: opts.pressure.high },
          { label: "low", value: opts.pressure.low },
        ];
        const resources: ResourceFigure[] = [
          { label: `${opts.mount} used`, value: usage.usedRatio, unit: "ratio", max: 1, marks },
          { label: "free", value: usage.freeBytes, unit: "bytes", max: usage.totalBytes },
        ];
        return { mount: opts.mount, root, usedRatio: usage.usedRatio, freeBytes: usage.freeBytes, totalBytes: usage.totalBytes, fullForecastSeconds: lastForecast, resources };
      } catch (err) {
        return { mount: opts.mount, root, error: (err as Error).message };
      }
    },
  };
}

/** What the steps of one pass share. */
interface Pass {
  ctx: RunContext;
  plan: MediaPlan;
  /** The rules every walk of the pass applies (each sweep adds its own minimum age). */
  walk: WalkSettings;
  /** Root-relative paths the JSON stores reference, when references are cleared after deletions. */
  referenced: ReadonlySet<string> | null;
  /** Those of them the sweeps deleted. */
  deletedReferenced: Set<string>;
}

function emptyReport(root: string, forecastSeconds: number): DiskRunReport {
  return {
    removed: 0,
    reclaimedBytes: 0,
    removedByKind: { age: 0, pressure: 0 },
    root,
    usedRatioBefore: 0,
    usedRatioAfter: 0,
    freeBytes: 0,
    age: notRun(),
    pressure: { triggered: false, reason: "" },
    references: { cleared: 0, stores: {}, problems: [] },
    refusedMediaDirs: [],
    forecastSeconds,
  };
}

function notRun(): AgeSweepReport {
  return { ran: false, removed: 0, bytes: 0, skipped: emptySkips(), errors: 0 };
}

function emptySkips(): ScanTotals["skipped"] {
  return { symlink: 0, otherFilesystem: 0, protected: 0, recent: 0, temp: 0, vanished: 0, tooYoung: 0, special: 0, movedDirectory: 0 };
}
