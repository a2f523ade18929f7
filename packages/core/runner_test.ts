import { SpanStatusCode } from "@opentelemetry/api";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AbortedError } from "./errors.ts";
import type { Hook, RunContext, RunReport } from "./hook.ts";
import { createRunner } from "./runner.ts";
import { capturedLogger, deferred } from "./_test_support.ts";
import { memorySpans } from "./testing.ts";

const ok: RunReport = { removed: 0, reclaimedBytes: 0 };

function countingHook(run?: (ctx: RunContext, call: number) => Promise<RunReport>): Hook & { calls: number; concurrent: number; maxConcurrent: number } {
  const hook = {
    name: "test-hook",
    spanName: "sweep test",
    calls: 0,
    concurrent: 0,
    maxConcurrent: 0,
    async run(ctx: RunContext) {
      hook.calls++;
      hook.concurrent++;
      hook.maxConcurrent = Math.max(hook.maxConcurrent, hook.concurrent);
      try {
        return run ? await run(ctx, hook.calls) : ok;
      } finally {
        hook.concurrent--;
      }
    },
  };
  return hook;
}

describe("createRunner()", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits a whole interval longer than setTimeout's 24.8-day limit (a monthly hook) instead of firing at once", async () => {
    const hook = countingHook();
    const day = 86_400_000;
    const runner = createRunner(hook, { initialDelay: 1_000, interval: 30 * day, enabled: true });
    runner.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(hook.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(29 * day);
    expect(hook.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(day);
    expect(hook.calls).toBe(2);
    await runner.stop();
  });

  it("runs the first pass after initialDelay and the next ones interval after each pass ends", async () => {
    const hook = countingHook();
    const runner = createRunner(hook, { initialDelay: 1_000, interval: 5_000, enabled: true });
    runner.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(hook.calls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(hook.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(hook.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(hook.calls).toBe(5);
    await runner.stop();
  });

  it("never overlaps passes: a slow pass delays the next one instead of running beside it", async () => {
    const hook = countingHook(async () => {
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      return ok;
    });
    const runner = createRunner(hook, { initialDelay: 0, interval: 1_000, enabled: true });
    runner.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(hook.maxConcurrent).toBe(1);
    // each pass takes 12 s and the next starts 1 s after it ends: 0, 13, 26, 39, 52
    expect(hook.calls).toBe(5);
    const stopping = runner.stop();
    await vi.advanceTimersByTimeAsync(12_000);
    await stopping;
  });

  it("start() is idempotent: calling it again does not add a second schedule", async () => {
    const hook = countingHook();
    const runner = createRunner(hook, { initialDelay: 100, interval: 1_000, enabled: true });
    runner.start();
    runner.start();
    runner.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(hook.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(hook.calls).toBe(2);
    await runner.stop();
  });

  it("stop() is idempotent, clears the timer, and start() after stop() schedules again", async () => {
    const hook = countingHook();
    const runner = createRunner(hook, { initialDelay: 100, interval: 1_000, enabled: true });
    runner.start();
    await runner.stop();
    await runner.stop();
    expect(runner.status().state).toBe("stopped");
    expect(runner.status().nextRunAt).toBeNull();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(hook.calls).toBe(0);
    runner.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(hook.calls).toBe(1);
    await runner.stop();
  });

  it("stop() aborts the pass's signal and waits for the pass to end", async () => {
    let sawAbort = false;
    let ended = false;
    const hook = countingHook(async (ctx) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
      sawAbort = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
      ended = true;
      throw new AbortedError();
    });
    const runner = createRunner(hook, { initialDelay: 0, interval: 1_000, enabled: true });
    runner.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(runner.status().state).toBe("running");
    const stopping = runner.stop();
    await vi.advanceTimersByTimeAsync(500);
    await stopping;
    expect(sawAbort).toBe(true);
    expect(ended).toBe(true);
    expect(runner.status().lastRun?.outcome).toBe("aborted");
    expect(runner.status().state).toBe("stopped");
  });

  it("stop() gives up waiting after stopTimeout when a pass ignores the abort", async () => {
    const never = deferred<RunReport>();
    const { logger, lines } = capturedLogger();
    const hook = countingHook(() => never.promise);
    const runner = createRunner(hook, { initialDelay: 0, stopTimeout: 2_000, enabled: true, logger });
    runner.start();
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = runner.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopping;
    expect(stopped).toBe(true);
    expect(lines().some((line) => String(line.msg).includes("did not end within stopTimeout"))).toBe(true);
    never.resolve(ok);
  });

  it("start() during a pass started by runOnce() schedules the next pass interval after it ends", async () => {
    const gate = deferred();
    const hook = countingHook(async (_ctx, call) => {
      if (call === 1) await gate.promise;
      return ok;
    });
    const runner = createRunner(hook, { initialDelay: 0, interval: 1_000, enabled: true });
    const first = runner.runOnce();
    runner.start();
    expect(runner.status().state).toBe("running");
    gate.resolve();
    await first;
    await vi.advanceTimersByTimeAsync(0);
    expect(runner.status().nextRunAt).not.toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(hook.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(hook.calls).toBe(3);
    await runner.stop();
  });

  it("starts no pass after stop(): runOnce() resolves skipped until start() is called again", async () => {
    const hook = countingHook();
    const runner = createRunner(hook, { initialDelay: 10_000, enabled: true });
    runner.start();
    await runner.stop();
    expect(await runner.runOnce()).toMatchObject({ outcome: "skipped", reason: "the runner is stopped" });
    expect(hook.calls).toBe(0);
    runner.start();
    expect((await runner.runOnce()).outcome).toBe("success");
    expect(hook.calls).toBe(1);
    await runner.stop();
  });

  it("keeps status() working when a hook's details cannot be turned into JSON", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const runner = createRunner({ name: "odd", run: async () => ok, status: () => cyclic }, { enabled: true });
    expect(runner.status().details).toMatchObject({ error: expect.stringContaining("status details are not JSON") });
  });

  it("runOnce() joins the pass in flight instead of starting another", async () => {
    const gate = deferred();
    const hook = countingHook(async () => {
      await gate.promise;
      return { removed: 1, reclaimedBytes: 10 };
    });
    const runner = createRunner(hook, { enabled: true });
    const first = runner.runOnce();
    const second = runner.runOnce();
    expect(second).toBe(first);
    gate.resolve();
    const [a, b] = await Promise.all([first, second]);
    expect(hook.calls).toBe(1);
    expect(a).toBe(b);
    expect(a.outcome).toBe("success");
  });

  it("contains a pass that throws: logged with err, recorded on the span, counted, and the loop goes on", async () => {
    // Real timers here: pino's error serialisation does not finish under faked timers.
    vi.useRealTimers();
    const registry = new Registry();
    const { tracer, spans } = memorySpans();
    const { logger, lines } = capturedLogger();
    const hook = countingHook(async (_ctx, call) => {
      if (call === 1) throw Object.assign(new Error("disk on fire"), { code: "EFIRE" });
      return { removed: 2, reclaimedBytes: 2048 };
    });
    const runner = createRunner(hook, { initialDelay: 0, interval: 10, registry, tracer, logger, enabled: true });
    runner.start();
    await vi.waitFor(() => expect(hook.calls).toBeGreaterThanOrEqual(2));
    await runner.stop();
    expect(runner.status().totals.failures).toBe(1);

    const failed = lines().find((line) => line.msg === "pass failed");
    expect(failed).toMatchObject({ hook: "test-hook", level: 50, err: { message: "disk on fire" } });
    const [first, second] = await spans();
    expect(first?.name).toBe("sweep test");
    expect(first?.status.code).toBe(SpanStatusCode.ERROR);
    expect(first?.attributes["error.type"]).toBe("EFIRE");
    expect(first?.events.some((event) => event.name === "exception")).toBe(true);
    expect(second?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(second?.attributes).toMatchObject({ "reclaim.hook": "test-hook", "reclaim.removed": 2, "reclaim.reclaimed_bytes": 2048 });

    const runs = await registry.getSingleMetricAsString("reclaim_hook_runs_total");
    expect(runs).toContain('reclaim_hook_runs_total{hook="test-hook",outcome="failure"} 1');
    expect(runs).toMatch(/reclaim_hook_runs_total\{hook="test-hook",outcome="success"\} [1-9]/);
  });

  it("records the common metrics of a successful pass on the registry passed in", async () => {
    const registry = new Registry();
    const hook: Hook = { name: "disk", kind: "file", run: async () => ({ removed: 3, reclaimedBytes: 3_000, removedByKind: { age: 2, pressure: 1 } }) };
    const runner = createRunner(hook, { registry, enabled: true });
    // every outcome's series starts at 0, so that increase() sees the first failure
    expect(await registry.getSingleMetricAsString("reclaim_hook_runs_total")).toContain('reclaim_hook_runs_total{hook="disk",outcome="failure"} 0');
    await runner.runOnce();
    await runner.runOnce();
    const text = await registry.metrics();
    expect(text).toContain('reclaim_reclaimed_bytes_total{hook="disk"} 6000');
    expect(text).toContain('reclaim_removed_total{hook="disk",kind="age"} 4');
    expect(text).toContain('reclaim_removed_total{hook="disk",kind="pressure"} 2');
    expect(text).toContain('reclaim_hook_run_duration_seconds_count{hook="disk"} 2');
    expect(text).toMatch(/reclaim_hook_last_success_timestamp_seconds\{hook="disk"\} \d{10}/);
    expect(runner.status().totals).toEqual({ runs: 2, failures: 0, removed: 6, reclaimedBytes: 6_000 });
  });

  it("counts removed items under the hook's kind when the report has no removedByKind", async () => {
    const registry = new Registry();
    const runner = createRunner({ name: "event-log", kind: "line", run: async () => ({ removed: 7, reclaimedBytes: 70 }) }, { registry, enabled: true });
    await runner.runOnce();
    expect(await registry.getSingleMetricAsString("reclaim_removed_total")).toContain('reclaim_removed_total{hook="event-log",kind="line"} 7');
  });

  it("in a dry run reports what would go but does not count it as removed", async () => {
    const registry = new Registry();
    let sawDryRun = false;
    const runner = createRunner(
      { name: "disk", run: async (ctx) => ((sawDryRun = ctx.dryRun), { removed: 5, reclaimedBytes: 500 }) },
      { registry, dryRun: true, enabled: true },
    );
    const result = await runner.runOnce();
    expect(sawDryRun).toBe(true);
    expect(result.report).toMatchObject({ removed: 5, reclaimedBytes: 500 });
    expect(await registry.getSingleMetricAsString("reclaim_reclaimed_bytes_total")).not.toContain("500");
    expect(runner.status().totals.removed).toBe(0);
  });

  it("status() is JSON-safe and shows state, last run, next run, totals, options and hook details", async () => {
    const hook: Hook = {
      name: "sqlite",
      options: Object.freeze({ path: "/data/db.sqlite" }),
      run: async () => ({ removed: 1, reclaimedBytes: 4096, huge: 2n ** 60n }),
      status: () => ({ fileBytes: 8192 }),
    };
    const runner = createRunner(hook, { initialDelay: 500, interval: 1_000, enabled: true });
    runner.start();
    expect(runner.status()).toMatchObject({ hook: "sqlite", state: "scheduled", lastRun: null });
    expect(Date.parse(runner.status().nextRunAt!)).toBe(Date.now() + 500);
    await vi.advanceTimersByTimeAsync(500);
    const status = runner.status();
    expect(JSON.parse(JSON.stringify(status))).toEqual(status);
    expect(status).toMatchObject({
      state: "scheduled",
      lastRun: { outcome: "success", report: { removed: 1, reclaimedBytes: 4096 } },
      options: { path: "/data/db.sqlite" },
      details: { fileBytes: 8192 },
      totals: { runs: 1, failures: 0, removed: 1, reclaimedBytes: 4096 },
    });
    await runner.stop();
  });

  it.each([
    ["RECLAIM_ENABLED", "false"],
    ["GC_ENABLED", "false"],
    ["RECLAIM_ENABLED", "0"],
  ])("is switched off by %s=%s: start() schedules nothing and runOnce() skips", async (name, value) => {
    vi.stubEnv(name, value);
    try {
      const hook = countingHook();
      const runner = createRunner(hook, { initialDelay: 0, interval: 1_000 });
      runner.start();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(hook.calls).toBe(0);
      expect(runner.status()).toMatchObject({ state: "disabled", enabled: false });
      expect((await runner.runOnce()).outcome).toBe("skipped");
      expect(hook.calls).toBe(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("adds up to `jitter` ms to each delay", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const hook = countingHook();
    const runner = createRunner(hook, { initialDelay: 1_000, interval: 1_000, jitter: 400, enabled: true });
    runner.start();
    await vi.advanceTimersByTimeAsync(1_199);
    expect(hook.calls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(hook.calls).toBe(1);
    await runner.stop();
    vi.restoreAllMocks();
  });

  it("stops through `await using` (Symbol.asyncDispose)", async () => {
    const hook = countingHook();
    {
      await using runner = createRunner(hook, { initialDelay: 100, enabled: true });
      runner.start();
    }
    await vi.advanceTimersByTimeAsync(1_000);
    expect(hook.calls).toBe(0);
  });

  it("refuses bad timing options with the field and the value", () => {
    const hook = countingHook();
    expect(() => createRunner(hook, { interval: 0 })).toThrow(/'interval' must be at least 1ms: current value is 0/);
    expect(() => createRunner(hook, { initialDelay: "soon" as unknown as number })).toThrow(/'initialDelay' must be a duration/);
    expect(() => createRunner(hook, { interval: 0 })).toThrow(RangeError);
  });
});
