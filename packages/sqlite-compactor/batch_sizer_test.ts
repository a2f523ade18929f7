import { describe, expect, it } from "vitest";
import { BatchSizer, pauseAfter } from "./_batch_sizer.ts";

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
});

describe("pauseAfter()", () => {
  it("leaves the lock free for half the transaction, between 1 ms and half the target", () => {
    expect(pauseAfter(30, 50)).toBe(15);
    expect(pauseAfter(0.2, 50)).toBe(1);
    expect(pauseAfter(400, 50)).toBe(25);
  });
});
