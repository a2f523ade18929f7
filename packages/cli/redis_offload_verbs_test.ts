import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { databaseUrl, redisUrl, tempDir } from "@reclaim/core/testing";
import { Redis } from "ioredis";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { reclaim } from "./_test_cli.ts";

const DAY = 86_400_000;

describe("reclaim run redis-offload and reclaim archive", () => {
  it("archives from the config's stores, then `archive get` prints a key's archived payload and `archive list` a kind's records since a time", async () => {
    await using dir = await tempDir("cli-offload-");
    const id = randomBytes(4).toString("hex");
    const prefix = `cli-offload-${id}:`;
    const schema = `cli_offload_${id}`;
    const redis = new Redis(redisUrl);
    const pool = new pg.Pool({ connectionString: databaseUrl });
    try {
      const now = Date.now();
      await redis.hset(`${prefix}completion:1`, { completed_at: String(now - 10 * DAY), worker: "w1" });
      await redis.set(`${prefix}failure:2`, JSON.stringify({ failed_at: new Date(now - 20 * DAY).toISOString(), error: "OOM" }));
      await redis.set(`${prefix}failure:3`, JSON.stringify({ failed_at: new Date(now - 40 * DAY).toISOString(), error: "timeout" }));
      await writeFile(
        join(dir.path, "reclaim.config.json"),
        JSON.stringify({
          redis: { url: redisUrl },
          postgres: { url: databaseUrl },
          hooks: {
            "jobs-offload": {
              type: "redis-offload",
              schema,
              sources: [
                { match: `${prefix}completion:*`, kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d" },
                { match: `${prefix}failure:*`, kind: "failed", timeField: "failed_at", hotFor: "14d", archiveFor: "180d" },
              ],
            },
          },
        }),
      );
      const run = await reclaim(["run", "jobs-offload"], { cwd: dir.path });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).report.removedByKind).toEqual({ completed: 1, failed: 2 });
      expect(await redis.exists(`${prefix}completion:1`, `${prefix}failure:2`, `${prefix}failure:3`)).toBe(0);

      const got = await reclaim(["archive", "get", `${prefix}completion:1`], { cwd: dir.path });
      expect(got.code).toBe(0);
      expect(JSON.parse(got.stdout)).toMatchObject({ key: `${prefix}completion:1`, kind: "completed", redisType: "hash", payload: { worker: "w1" }, recordTime: new Date(now - 10 * DAY).toISOString() });
      const missing = await reclaim(["archive", "get", `${prefix}completion:nope`], { cwd: dir.path });
      expect(missing.code).toBe(1);
      expect(missing.stdout).toBe("");

      const listed = await reclaim(["archive", "list", "--kind", "failed", "--since", "30d"], { cwd: dir.path });
      expect(listed.code).toBe(0);
      expect(listed.stdout.trim().split("\n").map((line) => JSON.parse(line).payload.error)).toEqual(["OOM"]);
      const all = await reclaim(["archive", "list", "--kind", "failed", "--since", new Date(now - 50 * DAY).toISOString()], { cwd: dir.path });
      expect(all.stdout.trim().split("\n").map((line) => JSON.parse(line).payload.error)).toEqual(["timeout", "OOM"]);
      const bad = await reclaim(["archive", "list", "--kind", "failed", "--since", "last tuesday"], { cwd: dir.path });
      expect(bad.code).toBe(2);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
      redis.disconnect();
    }
  });
});
