import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { forecastSecondsUntilFull, readDiskUsage } from "./disk_usage.ts";

describe("readDiskUsage()", () => {
  it("reads statfs of the filesystem holding a path", async () => {
    await using dir = await tempDir("usage-");
    const usage = readDiskUsage(dir.path);
    expect(usage.totalBytes).toBeGreaterThan(0);
    expect(usage.usedRatio).toBeGreaterThanOrEqual(0);
    expect(usage.usedRatio).toBeLessThanOrEqual(1);
    expect(usage.freeBytes).toBeLessThanOrEqual(usage.totalBytes);
  });
});

describe("forecastSecondsUntilFull()", () => {
  it("divides the free bytes by the least-squares growth rate", () => {
    // Growing 1 byte per second hour over hour, with a sawtooth of +-50 bytes around the trend.
    const samples = [0, 1, 2, 3, 4, 5].map((i) => ({ at: i * 3_600_000, usedBytes: 1_000 + i * 3_600 + (i % 2 === 0 ? 50 : -50) }));
    expect(forecastSecondsUntilFull(samples, 36_000)).toBeGreaterThan(35_000);
    expect(forecastSecondsUntilFull(samples, 36_000)).toBeLessThan(37_500);
    expect(forecastSecondsUntilFull([{ at: 0, usedBytes: 0 }, { at: 1000, usedBytes: 10 }, { at: 2000, usedBytes: 20 }], 100)).toBe(10);
  });

  it("returns -1 when usage is flat, shrinking or there are fewer than 3 samples", () => {
    expect(forecastSecondsUntilFull([{ at: 0, usedBytes: 5 }, { at: 1, usedBytes: 5 }, { at: 2, usedBytes: 5 }], 10)).toBe(-1);
    expect(forecastSecondsUntilFull([{ at: 0, usedBytes: 9 }, { at: 1, usedBytes: 5 }, { at: 2, usedBytes: 1 }], 10)).toBe(-1);
    expect(forecastSecondsUntilFull([{ at: 0, usedBytes: 0 }, { at: 1, usedBytes: 5 }], 10)).toBe(-1);
    expect(forecastSecondsUntilFull([{ at: 5, usedBytes: 0 }, { at: 5, usedBytes: 5 }, { at: 5, usedBytes: 9 }], 10)).toBe(-1);
  });
});
