import type { Cluster, Redis } from "ioredis";
import type { Pool } from "pg";
import { StoreUnavailableError } from "./errors.ts";
import { silentLogger, type Logger } from "./logger.ts";

/** A Redis connection as hooks receive it: one server, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Where a Redis is: a URL (`redis://user:pass@host:6379/0`, `rediss://...`), and whether it is a cluster. */
export interface RedisTarget {
  url: string;
  /** Connect as a Redis Cluster client, with `url` as the first node. @default false */
  cluster?: boolean;
}

/** Where a Postgres is: a connection URL (`postgres://user:pass@host:5432/db`). */
export interface PostgresTarget {
  url: string;
}

/** Options of {@link createConnections}. */
export interface ConnectionsOptions {
  /** Where connection trouble is logged (with the password redacted). @default silent */
  logger?: Logger;
  /** How long a store may take to answer when a client is asked for. @default 5000 */
  connectTimeout?: number;
}

/** Clients shared by URL. Created by {@link createConnections}. */
export interface Connections {
  /** A ready client for the target, shared by every caller with the same URL; opened on first use. */
  redis(target: RedisTarget): Promise<RedisClient>;
  /** A pool for the target, shared by every caller with the same URL; checked with `SELECT 1` on each call. */
  postgres(target: PostgresTarget): Promise<Pool>;
  /** Closes every client opened so far. */
  close(): Promise<void>;
}

/**
 * Opens Redis and Postgres clients on first use, one per distinct URL, and hands the same one to every caller.
 * ioredis and pg are loaded only when a hook asks for them (optional peer dependencies). A store that is down, or
 * refuses the credentials, rejects with a one-line {@link StoreUnavailableError} whose URL has no password; the next
 * call tries again.
 *
 * @example
 * ```ts
 * const connections = createConnections({ logger });
 * const redis = await connections.redis({ url: process.env.REDIS_URL! });
 * await redis.set("k", "v");
 * await connections.close();
 * ```
 */
export function createConnections(options: ConnectionsOptions = {}): Connections {
  const log = (options.logger ?? silentLogger).child({ component: "connections" });
  const connectTimeout = options.connectTimeout ?? 5_000;
  // The promise of each client is stored before anything is awaited: callers that ask for one URL at the same time
  // (the first passes of several hooks) share one client instead of opening one each, of which close() would know
  // only the last (the others kept `reclaim start` alive after "reclaim stopped").
  const redisClients = new Map<string, Promise<{ client: RedisClient; lastError: () => Error | undefined }>>();
  const pools = new Map<string, Promise<Pool>>();

  async function openRedis(target: RedisTarget) {
    const { Redis, Cluster } = await import("ioredis");
    const shown = redactUrl(target.url);
    const common = { lazyConnect: true, connectTimeout, maxRetriesPerRequest: 1, connectionName: "reclaim" };
    let client: RedisClient;
    if (target.cluster) {
      const url = new URL(target.url);
      const tls = url.protocol === "rediss:" ? { tls: {} } : {};
      const auth = {
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      };
      client = new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
        lazyConnect: true,
        clusterRetryStrategy: (times: number) => Math.min(100 * times, 2_000),
        redisOptions: { ...common, ...auth, ...tls },
      });
    } else {
      client = new Redis(target.url, { ...common, retryStrategy: (times: number) => Math.min(100 * times, 2_000) });
    }
    let lastError: Error | undefined;
    let reported = false;
    client.on("error", (err: Error) => {
      lastError = err;
      if (!reported) log.warn({ store: shown, error: err.message }, "Redis connection error; retrying");
      reported = true;
    });
    client.on("ready", () => {
      if (reported) log.info({ store: shown }, "Redis connection back");
      lastError = undefined;
      reported = false;
    });
    return { client, lastError: () => lastError };
  }

  async function openPool(target: PostgresTarget): Promise<Pool> {
    const pg = await import("pg");
    const pool = new pg.default.Pool({ connectionString: target.url, max: 4, connectionTimeoutMillis: connectTimeout, idleTimeoutMillis: 30_000, application_name: "reclaim" });
    // An idle client that loses its server emits here; without a listener the process would crash.
    pool.on("error", (err) => log.warn({ store: redactUrl(target.url), error: err.message }, "Postgres connection error"));
    return pool;
  }

  return {
    async redis(target) {
      let entry = redisClients.get(target.url);
      if (!entry) {
        entry = openRedis(target);
        redisClients.set(target.url, entry);
      }
      const { client, lastError } = await entry;
      try {
        await withTimeout(client.ping(), connectTimeout);
      } catch (err) {
        throw new StoreUnavailableError("Redis", redactUrl(target.url), lastError() ?? (err as Error));
      }
      return client;
    },

    async postgres(target) {
      let opening = pools.get(target.url);
      if (!opening) {
        opening = openPool(target);
        pools.set(target.url, opening);
      }
      const pool = await opening;
      try {
        await pool.query("SELECT 1");
      } catch (err) {
        throw new StoreUnavailableError("Postgres", redactUrl(target.url), err as Error);
      }
      return pool;
    },

    async close() {
      const redis = [...redisClients.values()].map(async (entry) => {
        const { client } = await entry;
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      });
      const pg = [...pools.values()].map(async (pool) => (await pool).end());
      redisClients.clear();
      pools.clear();
      await Promise.allSettled([...redis, ...pg]);
    },
  };
}

/**
 * The URL with its password replaced by `***`, for errors, logs and status pages. Text that is not a URL is
 * returned as `<unparsable URL>` so a secret in it cannot leak either.
 *
 * @example
 * ```ts
 * redactUrl("redis://app:hunter2@cache:6379/0"); // "redis://app:***@cache:6379/0"
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparsable URL>";
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
