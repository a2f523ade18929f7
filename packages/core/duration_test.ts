import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.ts";
import { formatSize, parseSize } from "./size.ts";

describe("parseDuration()", () => {
  it("reads milliseconds, numeric strings and unit suffixes", () => {
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration("250")).toBe(250);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("1.5s")).toBe(1_500);
    expect(parseDuration("2w")).toBe(1_209_600_000);
  });

  it.each(["", "7 days", "-1s", "1y", "abc"] as const)("refuses %j with a RangeError that says what a duration is", (bad) => {
    expect(() => parseDuration(bad)).toThrow(/is not a duration: use milliseconds or a number with ms, s, m, h, d or w/);
  });

  it("refuses negative and non-finite numbers", () => {
    expect(() => parseDuration(-5)).toThrow(RangeError);
    expect(() => parseDuration(Number.NaN)).toThrow(RangeError);
  });

  it("formats to the largest whole unit", () => {
    expect(formatDuration(604_800_000)).toBe("1w");
    expect(formatDuration(86_400_000)).toBe("1d");
    expect(formatDuration(90_000)).toBe("90s");
    expect(formatDuration(1_500)).toBe("1500ms");
  });
});

describe("parseSize()", () => {
  it("reads bytes and binary and decimal units, case-insensitively", () => {
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("50MiB")).toBe(52_428_800);
    expect(parseSize("1gib")).toBe(1_073_741_824);
    expect(parseSize("2KB")).toBe(2_000);
    expect(parseSize("1.5 KiB")).toBe(1_536);
  });

  it.each(["", "50 potatoes", "-1", "1.5", "MiB"] as const)("refuses %j with a RangeError", (bad) => {
    expect(() => parseSize(bad)).toThrow(/is not a size/);
  });

  it("formats bytes for people", () => {
    expect(formatSize(812)).toBe("812 B");
    expect(formatSize(52_428_800)).toBe("50.0 MiB");
    expect(formatSize(1_610_612_736)).toBe("1.5 GiB");
  });
});
