import type { Redis } from "ioredis";
import { isReplyError, masters, parseInfo, type RedisClient } from "./_redis.ts";

/** What a pass reads of a Redis's memory before it starts. */
export interface RedisMemory {
  /** INFO used_memory summed over masters, or null when INFO is forbidden. */
  used: number | null;
  /** INFO maxmemory summed over masters (0 = no limit), or null when INFO is forbidden. */
  max: number | null;
  /** `maxmemory-policy`, or null when neither CONFIG nor INFO would say. */
  policy: string | null;
  /** Each master's run_id (a restarted master gets a new one, which invalidates its SCAN cursor). */
  runIds: Record<string, string>;
}

/** Reads used_memory, maxmemory and maxmemory-policy: CONFIG GET first, INFO memory when CONFIG is forbidden (managed Redis). */
export async function readMemory(client: RedisClient): Promise<RedisMemory> {
  const memory: RedisMemory = { used: null, max: null, policy: null, runIds: {} };
  const nodes = await masters(client);
  for (const { id, node } of nodes) {
    try {
      const info = parseInfo(await node.info("memory"));
      if (info.used_memory !== undefined) memory.used = (memory.used ?? 0) + Number(info.used_memory);
      if (info.maxmemory !== undefined) memory.max = (memory.max ?? 0) + Number(info.maxmemory);
      if (memory.policy === null && info.maxmemory_policy) memory.policy = info.maxmemory_policy;
      const server = parseInfo(await node.info("server"));
      if (server.run_id) memory.runIds[id] = server.run_id;
    } catch (err) {
      if (!isReplyError(err)) throw err;
    }
  }
  try {
    const reply = (await (client.isCluster ? nodes[0]!.node : (client as Redis)).call("CONFIG", ["GET", "maxmemory-policy"])) as string[];
    if (reply[1]) memory.policy = reply[1];
  } catch (err) {
    if (!isReplyError(err)) throw err;
  }
  return memory;
}
