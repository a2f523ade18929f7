// Test-only child: builds the offload hook from JSON options (argv[2]) on REDIS_URL and DATABASE_URL, says "ready",
// runs one pass on "go", then exits. The parent may SIGKILL it at any moment in between.
import { createRunner } from "@reclaim/core";
import { databaseUrl, redisUrl } from "@reclaim/core/testing";
import { Redis } from "ioredis";
import pg from "pg";
import { createRedisOffloadHook } from "./offload.ts";

const options = JSON.parse(process.argv[2] ?? "{}");
const redis = new Redis(redisUrl);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const runner = createRunner(createRedisOffloadHook({ ...options, redis, postgres: pool }), { enabled: true });
process.on("message", (message) => {
  if (message !== "go") return;
  void runner.runOnce().then((result) => process.send?.({ done: result.outcome, error: result.error ?? null }, () => process.exit(0)));
});
await redis.ping();
await pool.query("SELECT 1");
process.send?.("ready");
