import { describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { redisUrl } from "@reclaim/core/testing";
import pg from "pg";
import { createRedisOffloadHook } from "./offload.ts";
import { globToRegExp, indexMember, readTime } from "./_record.ts";

const seed = [
  { match: "worker:completion:*", kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d" },
  { match: "worker:failure:*", kind: "failed", timeField: "failed_at", hotFor: "14d", archiveFor: "180d" },
  { match: "workflow:failure:*", kind: "workflow_failed", timeField: "failed_at", hotFor: "14d", archiveFor: "180d" },
];

function create(config: Record<string, unknown>) {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  const pool = new pg.Pool();
  try {
    return createRedisOffloadHook({ ...(config as { sources: typeof seed }), redis, postgres: pool });
  } finally {
    redis.disconnect();
    void pool.end();
  }
}

describe("redis-offload options", () => {
  it("accept the seed's three sources with their durations and fill in the defaults", () => {
    const { options } = create({ sources: seed });
    expect(options).toMatchObject({ table: "reclaim_archive", schema: "public", batchSize: 2000, concurrency: 3, partition: "week", partitionsAhead: 2, lockTimeout: 2_000 });
    expect(options.sources.map((s) => [s.kind, s.hotFor / 86_400_000, s.archiveFor / 86_400_000])).toEqual([["completed", 7, 90], ["failed", 14, 180], ["workflow_failed", 14, 180]]);
  });

  it("refuse a table that is not a plain identifier, an onlyIndexed source without an index, and one kind with two windows", () => {
    expect(() => create({ sources: seed, table: 'x"; DROP' })).toThrow(/'table' must be a plain SQL identifier/);
    expect(() => create({ sources: [{ ...seed[0], onlyIndexed: true }] })).toThrow(/'sources\[0\]\.onlyIndexed' needs an index/);
    expect(() => create({ sources: [seed[0], { ...seed[1], kind: "completed" }] })).toThrow(/'sources\[1\]\.archiveFor' must equal sources\[0\]\.archiveFor/);
    expect(() => create({ sources: [] })).toThrow(/'sources' must be at least 1 items/);
  });
});

describe("record times", () => {
  it("read epoch seconds, epoch milliseconds and ISO 8601 (no zone is UTC), and nothing else", () => {
    const t = Date.UTC(2026, 10, 21, 10, 0, 0);
    expect(readTime(t)).toBe(t);
    expect(readTime(t / 1000)).toBe(t);
    expect(readTime(String(t))).toBe(t);
    expect(readTime(String(t / 1000))).toBe(t);
    expect(readTime("2026-11-21T10:00:00Z")).toBe(t);
    expect(readTime("2026-11-21 10:00:00")).toBe(t);
    expect(readTime("2026-11-21T12:00:00+02:00")).toBe(t);
    expect(readTime("2026-11-21T12:00:00.000+0200")).toBe(t);
    expect(readTime("2026-11-21")).toBe(Date.UTC(2026, 10, 21));
    for (const bad of ["", "yesterday", "21/11/2026", -5, 0, null, true, {}, "2026-13-45T99:00:00Z", Number.NaN]) expect(readTime(bad), String(bad)).toBeUndefined();
  });

  it("take the index member from what the pattern's last * matched", () => {
    expect(indexMember(globToRegExp("bull:q:*"), "bull:q:123")).toBe("123");
    expect(indexMember(globToRegExp("worker:*:completion:*"), "worker:a:completion:b")).toBe("b");
    expect(indexMember(globToRegExp("job:[0-9]?"), "job:12")).toBe("job:12");
    expect(globToRegExp("a\\*b:*").test("a*b:x")).toBe(true);
  });
});
