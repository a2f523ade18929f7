import { describe, expect, it } from "vitest";
import { BatchSizer, CONTENDED_CPU_MS, pauseAfter, timeTransaction } from "./_batch_sizer.ts";

describe("BatchSizer", () => {
  it("grows at most 1.5x while batches are fast and shrinks at once to what a slow batch's cost allows", () => {
    const sizer = new BatchSizer(50, { initial: 100 });
    sizer.record(1);
    expect(sizer.size).toBe(150);
    sizer.record(150); // 1 ms a row: 25 rows fit in half the target
    expect(sizer.size).toBe(25);
  });

  it("sizes by the slowest of the last few batches, so one fast batch does not make the next one big", () => {
    const sizer = new BatchSizer(50, { initial: 100 });
    sizer.record(25); // 0.25 ms a row: 100 fits
    expect(sizer.size).toBe(100);
    sizer.record(2.5); // 0.025 ms a row, but the batch before cost ten times that
    expect(sizer.size).toBe(100);
    for (let i = 0; i < 4; i++) sizer.record(sizer.size * 0.025); // the old cost leaves the window, the size grows again
    expect(sizer.size).toBeGreaterThan(100);
  });

  it("settles where a batch takes about half the target", () => {
    const sizer = new BatchSizer(50, { initial: 100 });
    const msPerRow = 0.01; // a batch of n rows takes n / 100 ms
    for (let i = 0; i < 30; i++) sizer.record(sizer.size * msPerRow);
    expect(sizer.size * msPerRow).toBeCloseTo(25, 0);
  });

  it("stays within its bounds", () => {
    const sizer = new BatchSizer(50, { initial: 100, min: 10, max: 300 });
    for (let i = 0; i < 10; i++) sizer.record(0);
    expect(sizer.size).toBe(300);
    for (let i = 0; i < 10; i++) sizer.record(10_000);
    expect(sizer.size).toBe(10);
  });
  it("while the process is being preempted, sizes batches to a scheduler slice of CPU time, not to a stretched wall clock", () => {
    const sizer = new BatchSizer(50, { initial: 1000 });
    // 1000 rows took 10 ms of CPU but 120 ms of wall clock: the process waited for the CPU while holding the lock.
    sizer.record(120, { cpuMs: 10, preempted: true });
    expect(sizer.contended).toBe(true);
    expect(sizer.size).toBe(Math.round((1000 * CONTENDED_CPU_MS) / 10));
    // An unpreempted batch right after does not lift the CPU budget at once.
    sizer.record(1.5, { cpuMs: 1.5, preempted: false });
    expect(sizer.size).toBeLessThanOrEqual(Math.round((1000 * CONTENDED_CPU_MS) / 10));
  });

  it("goes back to half the target once no preemption has been seen for a while", () => {
    const sizer = new BatchSizer(50, { initial: 100 });
    sizer.record(2, { cpuMs: 1, preempted: true });
    for (let i = 0; i < 200; i++) sizer.record(sizer.size * 0.01, { cpuMs: sizer.size * 0.01, preempted: false });
    expect(sizer.contended).toBe(false);
    expect(sizer.size * 0.01).toBeCloseTo(25, 0);
  });
});

describe("timeTransaction()", () => {
  it("returns the statement's value with its wall-clock and CPU time", () => {
    const { value, timing } = timeTransaction(() => {
      let x = 0;
      for (let i = 0; i < 2_000_000; i++) x += i;
      return x;
    });
    expect(value).toBe(1_999_999_000_000);
    expect(timing.ms).toBeGreaterThan(0);
    expect(timing.cpuMs).toBeGreaterThanOrEqual(0);
    expect(typeof timing.preempted).toBe("boolean");
  });
});

describe("pauseAfter()", () => {
  it("leaves the lock free for as long as a writer on SQLite's busy-handler schedule may sleep after waiting that long", () => {
    // SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms (totals 0, 1, 3, 8, 18, 33, 53, 78 ...).
    expect(pauseAfter(0.2, 50)).toBe(3); // a 1 ms sleep, plus margin
    expect(pauseAfter(2, 50)).toBe(4); // a writer that waited 2 ms sleeps 2 ms
    expect(pauseAfter(25, 50)).toBe(19); // after 18 ms it sleeps 15
    expect(pauseAfter(60, 50)).toBe(31); // after 53 ms it sleeps 25
    expect(pauseAfter(400, 50)).toBe(50); // never more than the target
    expect(pauseAfter(30, 5)).toBe(5);
  });
});
