import { describe, expect, test } from "vitest";
import { compilePattern, fillTemplate, matchKey } from "./_pattern.ts";
import { keySlot } from "./_slot.ts";

describe("compilePattern()", () => {
  test("matches like Redis globs: *, ?, classes, negated classes, ranges and escapes", () => {
    const cases: Array<[string, string, boolean]> = [
      ["worker:heartbeat:*", "worker:heartbeat:8f3a", true],
      ["worker:heartbeat:*", "worker:heartbeatx", false],
      ["worker:heartbeat:*", "worker:heartbeat:", true],
      ["job:?", "job:1", true],
      ["job:?", "job:12", false],
      ["job:[ab]", "job:b", true],
      ["job:[^ab]", "job:b", false],
      ["job:[a-c]", "job:c", true],
      ["job:\\*", "job:*", true],
      ["job:\\*", "job:x", false],
      ["a.b+c", "a.b+c", true],
      ["a.b+c", "axb+c", false],
    ];
    for (const [glob, key, expected] of cases) expect([glob, key, compilePattern(glob).regex.test(key)]).toEqual([glob, key, expected]);
  });

  test("captures each * in order and fills {1}, {2} and {member} into templates, keeping hash tags", () => {
    const pattern = compilePattern("job:*:meta:*");
    expect(pattern.stars).toBe(2);
    expect(pattern.literal).toBe(false);
    const captures = matchKey(pattern, "job:42:meta:x")!;
    expect(captures).toEqual(["42", "x"]);
    expect(fillTemplate("job:{1}:{2}", captures)).toBe("job:42:x");
    expect(fillTemplate("{tenant}:completion:{member}", [], "abc")).toBe("{tenant}:completion:abc");
    expect(compilePattern("events").literal).toBe(true);
    expect(compilePattern("ev\\*\\[x]")).toMatchObject({ literal: true, key: "ev*[x]" }); // escapes name exactly one key
    expect(compilePattern("ev\\*\\[x]").regex.test("ev*[x]")).toBe(true);
  });
});

describe("keySlot()", () => {
  test("computes Redis Cluster slots, hash tags included", () => {
    expect(keySlot("123456789")).toBe(12739); // CRC16-XMODEM check value 0x31C3 mod 16384
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
    expect(keySlot("foo{}{bar}")).toBe(keySlot("foo{}{bar}"));
  });
});
