import { describe, expect, it } from "vitest";
import { z } from "zod";
import { duration, parseOptions, size } from "./options.ts";

const schema = z.strictObject({
  root: z.string(),
  maxAge: duration().prefault("7d"),
  maxBytes: size().prefault("50MiB"),
  pressure: z.strictObject({ high: z.number().min(0).max(1).default(0.7) }).prefault({}),
  mode: z.enum(["mtime", "ctime"]).default("mtime"),
});

describe("parseOptions()", () => {
  it("fills in defaults, converts durations and sizes, and freezes the result", () => {
    const options = parseOptions("disk", schema, { root: "/data", maxAge: "90s" });
    expect(parseOptions("disk", schema, { root: "/data" }).maxAge).toBe(604_800_000);
    expect(options).toEqual({ root: "/data", maxAge: 90_000, maxBytes: 52_428_800, pressure: { high: 0.7 }, mode: "mtime" });
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.pressure)).toBe(true);
  });

  it("throws a RangeError naming the nested field, the reason and the value", () => {
    const bad = () => parseOptions("disk", schema, { root: "/d", pressure: { high: 1.7 } });
    expect(bad).toThrow(RangeError);
    expect(bad).toThrow("Cannot create disk hook as 'pressure.high' must be at most 1: current value is 1.7");
  });

  it("throws a TypeError for a wrong type, with code RECLAIM_ERR_INVALID_OPTION", () => {
    let error: unknown;
    try {
      parseOptions("disk", schema, { root: 42 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: "RECLAIM_ERR_INVALID_OPTION", field: "root", message: "Cannot create disk hook as 'root' must be a string: current value is 42" });
  });

  it("says a required field is missing", () => {
    expect(() => parseOptions("disk", schema, {})).toThrow("Cannot create disk hook as 'root' is required (string)");
  });

  it("names an unknown option", () => {
    expect(() => parseOptions("disk", schema, { root: "/d", maxAgee: "1d" })).toThrow("Cannot create disk hook as 'maxAgee' is not a known option");
  });

  it("explains a bad duration, size and enum value", () => {
    expect(() => parseOptions("disk", schema, { root: "/d", maxAge: "a week" })).toThrow(`'maxAge' must be a duration such as "90s", "30m", "7d" or milliseconds: current value is "a week"`);
    expect(() => parseOptions("disk", schema, { root: "/d", maxBytes: "lots" })).toThrow(`'maxBytes' must be a size such as "50MiB", "1GB" or bytes: current value is "lots"`);
    expect(() => parseOptions("disk", schema, { root: "/d", mode: "atime" })).toThrow(`'mode' must be one of "mtime", "ctime": current value is "atime"`);
  });
});
