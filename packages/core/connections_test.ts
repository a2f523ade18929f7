import { describe, expect, it, vi } from "vitest";
import { createConnections, redactUrl } from "./connections.ts";
import { databaseUrl, freePort, redisUrl } from "./testing.ts";

describe("createConnections()", () => {
  it("hands every caller with the same URL the same ready client, and another URL its own", async () => {
    const connections = createConnections();
    try {
      const a = await connections.redis({ url: redisUrl });
      const b = await connections.redis({ url: redisUrl });
      const other = await connections.redis({ url: `${redisUrl.replace(/\/\d*$/, "")}/3` });
      expect(a).toBe(b);
      expect(other).not.toBe(a);
      expect(await a.ping()).toBe("PONG");
      const pool = await connections.postgres({ url: databaseUrl });
      expect(await connections.postgres({ url: databaseUrl })).toBe(pool);
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      await connections.close();
      await vi.waitFor(() => expect(a.status).toBe("end"));
      expect(pool.ended).toBe(true);
    } finally {
      await connections.close();
    }
  });

  it("hands callers that ask for one URL at the same time one client, and close() ends it (none is left open)", async () => {
    const connections = createConnections();
    try {
      const redis = await Promise.all([1, 2, 3].map(() => connections.redis({ url: redisUrl })));
      const pools = await Promise.all([1, 2, 3].map(() => connections.postgres({ url: databaseUrl })));
      expect(new Set(redis).size).toBe(1);
      expect(new Set(pools).size).toBe(1);
      await connections.close();
      await vi.waitFor(() => expect(redis[0]!.status).toBe("end"));
      expect(pools[0]!.ended).toBe(true);
    } finally {
      await connections.close();
    }
  });

  it("rejects with one line naming the store without its password when it cannot be reached", async () => {
    const connections = createConnections({ connectTimeout: 2_000 });
    const port = await freePort();
    try {
      await expect(connections.redis({ url: `redis://:hunter2@127.0.0.1:${port}` })).rejects.toThrow(
        `Redis at redis://:***@127.0.0.1:${port} is unavailable: connect ECONNREFUSED 127.0.0.1:${port}`,
      );
      await expect(connections.postgres({ url: `postgres://app:hunter2@127.0.0.1:${port}/db` })).rejects.toThrow(
        new RegExp(`^Postgres at postgres://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/db is unavailable: connect ECONNREFUSED`),
      );
    } finally {
      await connections.close();
    }
  });
});

describe("redactUrl()", () => {
  it("hides the password and nothing else, and never echoes text it cannot parse", () => {
    expect(redactUrl("redis://app:hunter2@cache:6379/0")).toBe("redis://app:***@cache:6379/0");
    expect(redactUrl("postgres://app@db/x")).toBe("postgres://app@db/x");
    expect(redactUrl("not a url hunter2")).toBe("<unparsable URL>");
  });
});
