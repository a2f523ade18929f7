// One offload pass in its own process (so its peak RSS is its own): argv[2] = JSON { redisUrl, databaseUrl, options, now }.
// Prints one JSON line: { ms, cpuMs: { user, system } (the whole process), maxRssMiB, outcome, sources }.
import { createRunner } from "@reclaim/core";
import { Redis } from "ioredis";
import pg from "pg";
import { createRedisOffloadHook } from "../dist/mod.js";

const { redisUrl, databaseUrl, options, now } = JSON.parse(process.argv[2]);
const redis = new Redis(redisUrl);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const hook = createRedisOffloadHook({ ...options, redis, postgres: pool });
const started = performance.now();
const result = await createRunner(hook, { enabled: true, now: () => now }).runOnce();
const ms = performance.now() - started;
if (result.error) console.error(result.error);
const { sources } = result.report ?? {};
const { user, system } = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ ms, cpuMs: { user: user / 1000, system: system / 1000 }, maxRssMiB: process.resourceUsage().maxRSS / 1024, outcome: result.outcome, sources })}\n`);
await pool.end();
redis.disconnect();
