import { statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { counter, type Hook, type HookIdentity, parseOptions, type ResourceFigure, type RunReport, scrapedGauge } from "@reclaim/core";
import { Registry } from "prom-client";
import { trimLog } from "./_trim.ts";
import { type EventLogOptions, eventLogOptions, type ResolvedEventLogOptions } from "./event_log_options.ts";
import type { TrimOutcome } from "./trim_log.ts";

/** Options of {@link createEventLogHook}: the config-file options plus runtime objects. */
export interface EventLogHookOptions extends EventLogOptions, HookIdentity {}

/** What one pass of the event-log hook reports (`removed` is 0: counting dropped lines would mean reading them). */
export interface EventLogReport extends RunReport {
  outcome: TrimOutcome;
  bytesBefore: number;
  bytesAfter: number;
  linesKept: number;
  salvagedBytes: number;
  archive: string | null;
}

/**
 * The event-log hook (`event-log`, span `rotate event-log`): each pass trims the log to its last `keepLines`
 * lines when it is larger than `maxBytes` (see `trimToLastLines`), optionally archiving the head. Metrics:
 * `reclaim_event_log_bytes`, `reclaim_event_log_rotations_total`, `reclaim_event_log_salvaged_bytes_total`.
 *
 * @example
 * ```ts
 * const hook = createEventLogHook({ path: "/app/.data/events.jsonl", maxBytes: "50MiB", keepLines: 10_000, registry });
 * createRunner(hook, { interval: 3_600_000, initialDelay: 60_000, registry, logger }).start();
 * ```
 */
export function createEventLogHook(options: EventLogHookOptions): Hook<EventLogReport> {
  const { registry = new Registry(), name: hook = "event-log", ...rest } = options;
  const parsed: ResolvedEventLogOptions = parseOptions("event-log", eventLogOptions, rest);
  const path = resolve(parsed.path);
  const name = basename(path);
  let lastBytes = 0;
  let lastRotationAt: string | null = null;
  const currentBytes = () => {
    try {
      lastBytes = statSync(path).size;
    } catch {
      lastBytes = 0;
    }
    return lastBytes;
  };
  scrapedGauge(registry, { name: "reclaim_event_log_bytes", help: "Size of the event log in bytes (0 when it does not exist)." }, hook, (gauge) => {
    gauge.set({ hook }, currentBytes());
  });
  const rotations = counter(registry, { name: "reclaim_event_log_rotations_total", help: "Trims of the event log to its last lines.", labelNames: ["hook"] });
  const salvaged = counter(registry, {
    name: "reclaim_event_log_salvaged_bytes_total",
    help: "Bytes appended to the event log during a trim and carried over into the new file.",
    labelNames: ["hook"],
  });
  // Both series exist from the start (at 0), so rate() and increase() see the first trim.
  rotations.inc({ hook }, 0);
  salvaged.inc({ hook }, 0);

  return {
    name: hook,
    type: "event-log",
    spanName: "rotate event-log",
    kind: "line",
    options: parsed,
    async run(ctx) {
      ctx.span.setAttribute("file.path", path);
      const result = await trimLog(path, {
        maxBytes: parsed.maxBytes,
        keepLines: parsed.keepLines,
        archiveKeep: parsed.archive.enabled ? parsed.archive.keep : null,
        dryRun: ctx.dryRun,
        drainTimeout: parsed.drainTimeout,
        signal: ctx.signal,
      });
      lastBytes = result.outcome === "rotated" ? result.bytesAfter : result.bytesBefore;
      ctx.span.setAttributes({
        "reclaim.event_log.outcome": result.outcome,
        "reclaim.event_log.bytes_before": result.bytesBefore,
        "reclaim.event_log.bytes_after": result.bytesAfter,
        "reclaim.event_log.lines_kept": result.linesKept,
        "reclaim.event_log.salvaged_bytes": result.salvagedBytes,
      });
      if (result.removedTemps > 0) ctx.log.info({ path, removedTemps: result.removedTemps }, `removed ${result.removedTemps} temporary file(s) left by an interrupted trim of ${name}`);
      const detail = { path, bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter, linesKept: result.linesKept, salvagedBytes: result.salvagedBytes };
      if (result.outcome === "rotated") {
        lastRotationAt = new Date(ctx.now()).toISOString();
        rotations.inc({ hook });
        if (result.salvagedBytes > 0) salvaged.inc({ hook }, result.salvagedBytes);
        ctx.log.info({ ...detail, archive: result.archive }, `rotated ${name}: ${result.bytesBefore} → ${result.bytesAfter} bytes`);
        for (const archive of result.removedArchives) ctx.log.info({ archive }, `removed old archive ${basename(archive)}`);
      } else if (result.outcome === "would-rotate") {
        ctx.log.info(detail, `would rotate ${name}: ${result.bytesBefore} → ${result.bytesAfter} bytes (dry run)`);
      } else if (result.outcome === "locked") {
        ctx.log.info({ path }, `another trimmer is working on ${name}; pass skipped`);
      } else {
        ctx.log.debug({ path, bytes: result.bytesBefore, maxBytes: parsed.maxBytes }, `${name} is ${result.outcome}; nothing to do`);
      }
      return {
        removed: 0,
        reclaimedBytes: result.reclaimedBytes,
        outcome: result.outcome,
        bytesBefore: result.bytesBefore,
        bytesAfter: result.bytesAfter,
        linesKept: result.linesKept,
        salvagedBytes: result.salvagedBytes,
        archive: result.archive,
      };
    },
    status() {
      const bytes = currentBytes();
      const resources: ResourceFigure[] = [{ label: "log size", value: bytes, unit: "bytes", max: parsed.maxBytes }];
      return { path, bytes, maxBytes: parsed.maxBytes, keepLines: parsed.keepLines, lastRotationAt, resources };
    },
  };
}
