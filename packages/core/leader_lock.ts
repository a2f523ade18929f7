import { randomBytes } from "node:crypto";

/** Releases a held lock. Safe to call once; a lock that expired meanwhile is left alone. */
export type ReleaseLock = () => Promise<void>;

/**
 * A leader lock: one replica at a time works on a shared resource. `acquire` resolves with a release function,
 * or `null` when another holder has it. Implementations: {@link redisLock}, {@link postgresLock}.
 */
export interface LeaderLock {
  /** `onLost` is called (at most once) when a held lock can no longer be vouched for. */
  acquire(key: string, ttlMs: number, onLost?: () => void): Promise<ReleaseLock | null>;
}

/** The part of an ioredis client that {@link redisLock} uses. */
export interface RedisLockClient {
  set(key: string, value: string, px: "PX", ttl: number, nx: "NX"): Promise<"OK" | null>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

/**
 * A Redis leader lock: `SET key token NX PX ttl`, renewed every ttl/6 while held (lost when no renewal was
 * confirmed for 2/3 of the TTL, so the holder is told while the lock is still its own), released only by its holder
 * (token-checked in a Lua script, so an expired lock taken by another replica is never deleted).
 *
 * @example
 * ```ts
 * const runner = createRunner(hook, { lock: redisLock(new Redis(process.env.REDIS_URL)) });
 * ```
 */
export function redisLock(client: RedisLockClient, options: { prefix?: string } = {}): LeaderLock {
  const prefix = options.prefix ?? "";
  return {
    async acquire(key, ttlMs, onLost) {
      const name = prefix + key;
      const token = randomBytes(16).toString("hex");
      const setAt = Date.now();
      if ((await client.set(name, token, "PX", ttlMs, "NX")) !== "OK") return null;
      // When the last renewal Redis confirmed was sent: the lock lasts at least `ttlMs` from then.
      let renewedAt = setAt;
      let released = false;
      let gone = false;
      const lost = () => {
        clearInterval(renew);
        if (!released && !gone) onLost?.();
        gone = true;
      };
      // Renew every ttl/6. The lock counts as lost when a renewal finds another token, or when no renewal sent in the
      // last 2/3 of the TTL has been confirmed. A renewal stuck behind a busy connection or a starved process is not
      // waited for: the pass is told while the lock is still its own (at least ttl/6 before it can expire), not after
      // another replica took it (found by the e2e fleet scenario: a reply that came 5 s late let two passes overlap).
      const renew = setInterval(() => {
        if (Date.now() - renewedAt >= (2 * ttlMs) / 3) return lost();
        const sentAt = Date.now();
        client.eval(RENEW, 1, name, token, ttlMs).then(
          (renewed) => {
            if (Number(renewed) === 1) renewedAt = Math.max(renewedAt, sentAt);
            else lost();
          },
          () => undefined, // an error is a renewal not confirmed: the check above decides
        );
      }, Math.max(250, Math.floor(ttlMs / 6)));
      renew.unref();
      return async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        await client.eval(RELEASE, 1, name, token);
      };
    },
  };
}

/** The part of a `pg.Pool` that {@link postgresLock} uses. */
export interface PostgresLockPool {
  connect(): Promise<{
    query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
    release(err?: Error | boolean): void;
    on?(event: "error", listener: (err: Error) => void): unknown;
    off?(event: "error", listener: (err: Error) => void): unknown;
  }>;
}

/**
 * A Postgres leader lock: a session advisory lock (`pg_try_advisory_lock(hashtext(key))`) held on a dedicated
 * connection for the pass, released with `pg_advisory_unlock`. The TTL is not needed: Postgres frees the lock
 * if the holder's connection dies.
 *
 * @example
 * ```ts
 * const runner = createRunner(hook, { lock: postgresLock(new pg.Pool({ connectionString })) });
 * ```
 */
export function postgresLock(pool: PostgresLockPool): LeaderLock {
  return {
    async acquire(key, _ttlMs, onLost) {
      const client = await pool.connect();
      try {
        const { rows } = await client.query("SELECT pg_try_advisory_lock(hashtext($1)) AS locked", [key]);
        if (rows[0]?.locked !== true) {
          client.release();
          return null;
        }
      } catch (err) {
        client.release(err as Error);
        throw err;
      }
      let released = false;
      // The lock lives as long as this connection: if it dies, Postgres has already freed the lock.
      const connectionLost = () => {
        if (!released) onLost?.();
      };
      client.on?.("error", connectionLost);
      return async () => {
        if (released) return;
        released = true;
        client.off?.("error", connectionLost);
        try {
          await client.query("SELECT pg_advisory_unlock(hashtext($1))", [key]);
          client.release();
        } catch (err) {
          client.release(err as Error);
          throw err;
        }
      };
    },
  };
}
