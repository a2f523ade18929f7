// One contender, in its own process so that its peak RSS is its own: `ours` (one pass of the redis-ttl hook, every
// heartbeat in one cycle) or `naive` (SCAN + one awaited EXPIRE NX per key). Prints {ms, maxRssBytes, changed}.
import { createRunner } from "@reclaim/core";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { createRedisTtlHook } from "../dist/mod.js";

const [which, port, pause = "2ms", scanCount = "1000"] = process.argv.slice(2);
const redis = new Redis(Number(port), "127.0.0.1");
await redis.ping();
const started = performance.now();
let changed = 0;
if (which === "ours") {
  const registry = new Registry();
  const hook = createRedisTtlHook({
    redis,
    registry,
    pause,
    scanCount: Number(scanCount),
    budget: { keys: 100_000_000, time: "1h" },
    policies: [{ match: "worker:heartbeat:*", ttl: "5m" }],
  });
  const result = await createRunner(hook, { registry, enabled: true }).runOnce();
  if (result.outcome !== "success" || !result.report.cycleComplete) throw new Error(`pass: ${result.outcome} ${result.error ?? ""}`);
  changed = result.report.policies[0].changed;
} else {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "worker:heartbeat:*", "COUNT", 1000);
    cursor = next;
    for (const key of keys) changed += await redis.expire(key, 300, "NX");
  } while (cursor !== "0");
}
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ ms, maxRssBytes: process.resourceUsage().maxRSS * 1024, changed }));
redis.disconnect();
