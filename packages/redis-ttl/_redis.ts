import type { RedisClient } from "@reclaim/core";
import type { Cluster, Redis } from "ioredis";

export type { RedisClient } from "@reclaim/core";

/** One command: name, then its arguments. */
export type RedisCommand = readonly [string, ...(string | number)[]];

/** One reply of a batch: an error (a per-key reply error such as WRONGTYPE) or the result. */
export type BatchReply = readonly [Error | null, unknown];

/** True for an error Redis answered (WRONGTYPE, MOVED, NOPERM, ...), as opposed to a broken connection. */
export function isReplyError(err: unknown): boolean {
  return err instanceof Error && (err.name === "ReplyError" || /^(ERR|WRONGTYPE|MOVED|ASK|NOPERM|NOSCRIPT|CROSSSLOT|BUSY|OOM|READONLY|TRYAGAIN|CLUSTERDOWN)\b/.test(err.message));
}

/**
 * Sends commands as one pipeline and returns every reply in order. On a single node (or a cluster node's own
 * connection) that is one `pipeline().exec()`; on a cluster client, where keys belong to different nodes, the
 * commands are issued together (ioredis writes each node's share back to back, so each node sees a pipeline).
 * Per-command reply errors are returned; a broken connection throws (the pass fails, the next pass redoes the batch).
 */
export async function sendBatch(target: RedisClient, commands: readonly RedisCommand[]): Promise<BatchReply[]> {
  if (commands.length === 0) return [];
  let replies: BatchReply[];
  if (target.isCluster) {
    replies = await Promise.all(
      commands.map(([name, ...args]) =>
        (target as Cluster).call(name, args).then(
          (result): BatchReply => [null, result],
          (err: Error): BatchReply => [err, null],
        ),
      ),
    );
  } else {
    const pipeline = (target as Redis).pipeline();
    for (const command of commands) pipeline.call(command[0], command.slice(1) as (string | number)[]);
    const result = await pipeline.exec();
    if (!result) throw new Error("Redis pipeline was discarded");
    replies = result as BatchReply[];
  }
  const broken = replies.find(([err]) => err !== null && !isReplyError(err));
  if (broken) throw broken[0];
  return replies;
}

/** The masters to scan: the client itself on a single node, each master's own connection on a cluster. */
export async function masters(client: RedisClient): Promise<Array<{ id: string; node: Redis }>> {
  if (!client.isCluster) {
    const node = client as Redis;
    return [{ id: `${node.options.host ?? "127.0.0.1"}:${node.options.port ?? 6379}`, node }];
  }
  const cluster = client as Cluster;
  // A PING connects a lazy cluster client and waits for its slot map.
  if (cluster.status !== "ready" || cluster.nodes("master").length === 0) await cluster.ping();
  return cluster
    .nodes("master")
    .map((node) => ({ id: `${node.options.host}:${node.options.port}`, node }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Parses `INFO` text into fields. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** Resolves a client or a lazy getter of one. */
export async function resolveClient(redis: RedisClient | (() => Promise<RedisClient>)): Promise<RedisClient> {
  return typeof redis === "function" ? await redis() : redis;
}
