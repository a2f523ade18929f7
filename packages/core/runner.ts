import { SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { Registry } from "prom-client";
import { AbortedError } from "./errors.ts";
import type { Hook, RunReport } from "./hook.ts";
import { isReclaimEnabled } from "./kill_switch.ts";
import type { LeaderLock } from "./leader_lock.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { hookMetrics, type HookMetrics } from "./metrics.ts";
import { parseOptions } from "./options.ts";
import { runnerOptionsSchema } from "./_runner_options.ts";


/** The longest delay setTimeout honours; a longer one fires after 1 ms. */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** Lifecycle of a runner. `disabled` means the kill switch was on when `start()` was called. */
export type RunnerState = "idle" | "scheduled" | "running" | "stopped" | "disabled";

/** How a pass ended. `skipped`: another replica held the leader lock, or the kill switch is on. */
export type PassOutcome = "success" | "failure" | "aborted" | "skipped";

const PASS_OUTCOMES: readonly PassOutcome[] = ["success", "failure", "aborted", "skipped"];

/** The result of one pass; `runOnce()` resolves with it and never rejects. */
export interface PassResult<R extends RunReport = RunReport> {
  outcome: PassOutcome;
  /** ISO 8601 start time. */
  startedAt: string;
  durationMs: number;
  report?: R;
  /** The error message when the pass failed or was aborted. */
  error?: string;
  /** Why the pass was skipped. */
  reason?: string;
}

/** Options of {@link createRunner}. Durations are milliseconds. */
export interface RunnerOptions {
  /** Time between the end of one pass and the start of the next. @default 3600000 (1 h) */
  interval?: number;
  /** Delay before the first pass after `start()`. @default 60000 (60 s) */
  initialDelay?: number;
  /** Up to this many ms added at random to each delay, so replicas do not run in step. @default 0 */
  jitter?: number;
  /** How long `stop()` waits for the pass in flight after aborting it. @default 10000 */
  stopTimeout?: number;
  /** Registry for the common metrics. @default a private registry */
  registry?: Registry;
  /** Tracer for the root span. @default trace.getTracer("reclaim") */
  tracer?: Tracer;
  /** Parent logger; the runner uses its child `{ hook }`. @default silent */
  logger?: Logger;
  /** Leader lock taken around each pass (one replica at a time), keyed `reclaim:lock:<hook name>`; a pass whose
   * lock is lost (not renewed in time, or its connection died) is aborted. @default none */
  lock?: LeaderLock;
  /** How long the leader lock is held before it expires if not renewed. @default 2 × interval, at least 60 s */
  lockTtl?: number;
  /** Passes report what they would do and touch nothing. @default false */
  dryRun?: boolean;
  /** Overrides the kill switch (`RECLAIM_ENABLED` / `GC_ENABLED`). @default read from the environment */
  enabled?: boolean;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** JSON-safe status of a runner, as served by the exporter's `/status`. */
export interface RunnerStatus {
  /** The instance name. */
  hook: string;
  /** The hook type (equal to `hook` unless the instance is named). */
  type: string;
  state: RunnerState;
  enabled: boolean;
  dryRun: boolean;
  intervalMs: number;
  lastRun: PassResult | null;
  /** The last passes (at most {@link PASS_HISTORY}), oldest first: what the console charts. */
  history: PassSummary[];
  lastSuccessAt: string | null;
  nextRunAt: string | null;
  totals: { runs: number; failures: number; removed: number; reclaimedBytes: number };
  options?: unknown;
  details?: unknown;
}

/** How many passes `status().history` keeps. */
export const PASS_HISTORY = 50;

/** One pass in `status().history`. */
export interface PassSummary {
  startedAt: string;
  outcome: PassOutcome;
  durationMs: number;
  removed: number;
  reclaimedBytes: number;
}

/** A scheduled hook. Created by {@link createRunner}. */
export interface Runner<R extends RunReport = RunReport> extends AsyncDisposable {
  readonly hook: Hook<R>;
  /** Schedules the first pass after `initialDelay`. Idempotent. */
  start(): void;
  /** Aborts the pass in flight, waits for it (at most `stopTimeout`), clears timers. Idempotent. */
  stop(): Promise<void>;
  /** Runs a pass now, or joins the pass already in flight. After `stop()` (until `start()`), resolves `skipped`. */
  runOnce(): Promise<PassResult<R>>;
  status(): RunnerStatus;
}

/**
 * Wraps a hook in a loop: `setTimeout(...).unref()` re-armed only after a pass ends (passes never overlap),
 * error containment, the common metrics, the root span, a child logger, the optional leader lock and the kill switch.
 *
 * @example
 * ```ts
 * const runner = createRunner(hook, { interval: 60_000, registry, logger });
 * runner.start();
 * process.on("SIGTERM", () => void runner.stop());
 * ```
 */
export function createRunner<R extends RunReport>(hook: Hook<R>, options: RunnerOptions = {}): Runner<R> {
  return new HookRunner(hook, options);
}

class HookRunner<R extends RunReport> implements Runner<R> {
  readonly hook: Hook<R>;
  readonly #interval: number;
  readonly #initialDelay: number;
  readonly #jitter: number;
  readonly #stopTimeout: number;
  readonly #lockTtl: number;
  readonly #dryRun: boolean;
  readonly #enabled: boolean;
  readonly #now: () => number;
  readonly #tracer: Tracer;
  readonly #log: Logger;
  readonly #lock: LeaderLock | undefined;
  readonly #metrics: HookMetrics;
  #state: RunnerState = "idle";
  #started = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #nextRunAt: number | null = null;
  #inFlight: Promise<PassResult<R>> | undefined;
  #controller: AbortController | undefined;
  #lastRun: PassResult<R> | null = null;
  #history: PassSummary[] = [];
  #lastSuccessAt: number | null = null;
  #totals = { runs: 0, failures: 0, removed: 0, reclaimedBytes: 0 };

  constructor(hook: Hook<R>, options: RunnerOptions) {
    const { registry, tracer, logger, lock, now, ...timing } = options;
    const parsed = parseOptions(`${hook.name} runner for the`, runnerOptionsSchema, timing);
    this.hook = hook;
    this.#interval = parsed.interval;
    this.#initialDelay = parsed.initialDelay;
    this.#jitter = parsed.jitter;
    this.#stopTimeout = parsed.stopTimeout;
    this.#lockTtl = parsed.lockTtl ?? Math.max(2 * parsed.interval, 60_000);
    this.#dryRun = parsed.dryRun;
    this.#enabled = parsed.enabled ?? isReclaimEnabled();
    this.#now = now ?? Date.now;
    this.#tracer = tracer ?? trace.getTracer("reclaim");
    this.#log = (logger ?? silentLogger).child({ hook: hook.name });
    this.#lock = lock;
    this.#metrics = hookMetrics(registry ?? new Registry());
    // Every outcome's series exists from the start at 0, so that increase() sees the first failure.
    for (const outcome of PASS_OUTCOMES) this.#metrics.runs.inc({ hook: hook.name, outcome }, 0);
    this.#metrics.reclaimedBytes.inc({ hook: hook.name }, 0);
  }

  start(): void {
    if (this.#started) return;
    if (!this.#enabled) {
      if (this.#state !== "disabled") this.#log.info("reclaim is disabled by RECLAIM_ENABLED/GC_ENABLED; hook not started");
      this.#state = "disabled";
      return;
    }
    this.#started = true;
    this.#stopped = false;
    if (this.#inFlight) {
      // A pass started by runOnce() is running: schedule the next one interval after it ends.
      this.#state = "running";
      void this.#inFlight.then(() => {
        if (this.#started && !this.#timer) this.#schedule(this.#interval);
      });
    } else {
      this.#state = "scheduled";
      this.#schedule(this.#initialDelay);
    }
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextRunAt = null;
    const inFlight = this.#inFlight;
    if (inFlight) {
      this.#controller?.abort(new AbortedError("The runner is stopping"));
      let timeout: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timeout = setTimeout(() => resolve("timeout"), this.#stopTimeout);
      });
      const ended = await Promise.race([inFlight.then(() => "ended" as const), timedOut]);
      clearTimeout(timeout);
      if (ended === "timeout") this.#log.warn({ stopTimeoutMs: this.#stopTimeout }, "pass did not end within stopTimeout after abort; leaving it behind");
    }
    if (this.#state !== "disabled") this.#state = "stopped";
  }

  runOnce(): Promise<PassResult<R>> {
    if (this.#stopped && !this.#inFlight) {
      // After stop() (daemon shutting down), no new pass starts: it would be neither aborted nor awaited.
      return Promise.resolve({ outcome: "skipped", startedAt: new Date(this.#now()).toISOString(), durationMs: 0, reason: "the runner is stopped" });
    }
    this.#inFlight ??= this.#pass().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  status(): RunnerStatus {
    const status: RunnerStatus = {
      hook: this.hook.name,
      type: this.hook.type ?? this.hook.name,
      state: this.#state,
      enabled: this.#enabled,
      dryRun: this.#dryRun,
      intervalMs: this.#interval,
      lastRun: this.#lastRun,
      history: [...this.#history],
      lastSuccessAt: this.#lastSuccessAt === null ? null : new Date(this.#lastSuccessAt).toISOString(),
      nextRunAt: this.#nextRunAt === null ? null : new Date(this.#nextRunAt).toISOString(),
      totals: { ...this.#totals },
    };
    if (this.hook.options) status.options = this.hook.options;
    if (this.hook.status) {
      try {
        status.details = this.hook.status();
      } catch (err) {
        status.details = { error: (err as Error).message };
      }
    }
    try {
      return jsonSafe(status);
    } catch (err) {
      // A hook's details that JSON cannot hold (a cycle, say) must not break /status.
      return jsonSafe({ ...status, details: { error: `status details are not JSON: ${(err as Error).message}` } });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #schedule(delay: number): void {
    const wait = delay + (this.#jitter > 0 ? Math.floor(Math.random() * this.#jitter) : 0);
    this.#nextRunAt = this.#now() + wait;
    this.#arm(wait);
  }

  /** Arms the timer for `wait` ms, in steps: setTimeout turns a delay above 2^31-1 ms (24.8 days) into 1 ms. */
  #arm(wait: number): void {
    const step = Math.min(wait, MAX_TIMEOUT_MS);
    this.#timer = setTimeout(() => {
      if (wait > MAX_TIMEOUT_MS) {
        this.#arm(wait - MAX_TIMEOUT_MS);
        return;
      }
      this.#timer = undefined;
      this.#nextRunAt = null;
      void this.runOnce().then(() => {
        if (this.#started && !this.#timer) this.#schedule(this.#interval);
      });
    }, step);
    this.#timer.unref();
  }

  async #pass(): Promise<PassResult<R>> {
    const started = this.#now();
    const startedAt = new Date(started).toISOString();
    if (!this.#enabled) {
      return this.#finish({ outcome: "skipped", startedAt, durationMs: 0, reason: "disabled by RECLAIM_ENABLED/GC_ENABLED" });
    }
    this.#state = "running";
    const controller = new AbortController();
    this.#controller = controller;
    const spanName = this.hook.spanName ?? `run ${this.hook.name}`;
    return this.#tracer.startActiveSpan(spanName, { attributes: { "reclaim.hook": this.hook.name, "reclaim.dry_run": this.#dryRun } }, async (span) => {
      let release: (() => Promise<void>) | null = null;
      let result: PassResult<R>;
      try {
        if (this.#lock) {
          const onLost = () => controller.abort(new AbortedError("The leader lock was lost: another replica may hold it now"));
          release = await this.#lock.acquire(`reclaim:lock:${this.hook.name}`, this.#lockTtl, onLost);
          if (!release) {
            span.setAttribute("reclaim.outcome", "skipped");
            this.#log.debug("another replica holds the leader lock; pass skipped");
            return this.#finish({ outcome: "skipped", startedAt, durationMs: this.#now() - started, reason: "leader lock held elsewhere" });
          }
        }
        const report = await this.hook.run({ signal: controller.signal, log: this.#log, span, dryRun: this.#dryRun, now: this.#now });
        span.setAttributes({ "reclaim.removed": report.removed, "reclaim.reclaimed_bytes": report.reclaimedBytes });
        result = { outcome: "success", startedAt, durationMs: this.#now() - started, report };
        span.setAttribute("reclaim.outcome", "success");
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        const aborted = controller.signal.aborted;
        span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        span.setAttribute("error.type", (error as { code?: string }).code ?? error.name);
        if (aborted) this.#log.warn({ err: error }, "pass aborted");
        else this.#log.error({ err: error }, "pass failed");
        result = { outcome: aborted ? "aborted" : "failure", startedAt, durationMs: this.#now() - started, error: error.message };
        span.setAttribute("reclaim.outcome", result.outcome);
      } finally {
        if (release) {
          try {
            await release();
          } catch (err) {
            this.#log.warn({ err }, "could not release the leader lock; it will expire");
          }
        }
        span.end();
        this.#controller = undefined;
      }
      return this.#finish(result);
    });
  }

  #finish(result: PassResult<R>): PassResult<R> {
    const hook = this.hook.name;
    this.#metrics.runs.inc({ hook, outcome: result.outcome });
    if (result.outcome !== "skipped") {
      this.#metrics.duration.observe({ hook }, result.durationMs / 1000);
      this.#totals.runs++;
    }
    if (result.outcome === "failure" || result.outcome === "aborted") this.#totals.failures++;
    const report = result.report;
    if (result.outcome === "success" && report) {
      this.#lastSuccessAt = this.#now();
      this.#metrics.lastSuccess.set({ hook }, Math.floor(this.#lastSuccessAt / 1000));
      if (!this.#dryRun) this.#count(report);
      if (report.removed > 0 || report.reclaimedBytes > 0) {
        this.#log.info({ removed: report.removed, reclaimedBytes: report.reclaimedBytes, durationMs: result.durationMs, dryRun: this.#dryRun }, "pass finished");
      } else {
        this.#log.debug({ durationMs: result.durationMs }, "pass finished; nothing to do");
      }
    }
    this.#lastRun = result;
    const { startedAt, outcome, durationMs } = result;
    this.#history.push({ startedAt, outcome, durationMs, removed: result.report?.removed ?? 0, reclaimedBytes: result.report?.reclaimedBytes ?? 0 });
    if (this.#history.length > PASS_HISTORY) this.#history.shift();
    if (this.#state === "running") this.#state = this.#started ? "scheduled" : "idle";
    return result;
  }

  #count(report: RunReport): void {
    const hook = this.hook.name;
    this.#totals.removed += report.removed;
    this.#totals.reclaimedBytes += report.reclaimedBytes;
    if (report.reclaimedBytes > 0) this.#metrics.reclaimedBytes.inc({ hook }, report.reclaimedBytes);
    const byKind = report.removedByKind ?? { [this.hook.kind ?? "item"]: report.removed };
    for (const [kind, count] of Object.entries(byKind)) if (count > 0) this.#metrics.removed.inc({ hook, kind }, count);
  }
}

function jsonSafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? Number(v) : v))) as T;
}
