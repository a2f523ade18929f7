import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { eventually } from "../_daemon.ts";
import { CDN_HOSTS, DAY_MS, type DaySample, Fleet, KEYS, type WrittenRecord } from "../_fleet.ts";
import { type LockHold, lockHolds, overlappingHolds, type ReclaimProcess, startReclaim } from "../_reclaim.ts";

// A month of a worker fleet against two `reclaim start` replicas of one config (redis-ttl, redis-offload, cdn-urls,
// each with its default leader lock), on a redis-server of its own (so that its used_memory is the fleet's alone) and
// a Postgres schema of its own on the Postgres of scripts/services.sh, both removed afterwards. One simulated day
// is one second (DAY_MS); every duration in the config is in those units. One replica is SIGKILLed mid-month.
const DAYS = 30;
const KILL_DAY = 8;
const HOOKS = ["redis-ttl", "redis-offload", "cdn-urls"] as const;
const WINDOWS = {
  completed: { hotFor: 5 * DAY_MS, archiveFor: 12 * DAY_MS },
  failed: { hotFor: 8 * DAY_MS, archiveFor: 16 * DAY_MS },
};
const STREAM_MAX_LEN = 2_000;

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5439/postgres";
const seconds = (ms: number) => `${ms / 1000}s`;

function config(redisUrl: string, schema: string): unknown {
  const schedule = { interval: seconds(DAY_MS), initialDelay: "500ms", jitter: "500ms", lockTtl: "6s" };
  return {
    redis: { url: redisUrl },
    postgres: { url: databaseUrl },
    hooks: {
      "redis-ttl": {
        ...schedule,
        policies: [
          { match: "worker:heartbeat:*", ttl: "1s" }, // 5 min in the seed; a TTL is at least 1 s
          { match: "machine:*", ttl: seconds(2 * DAY_MS), mode: "cap" },
        ],
        streams: [{ match: "events:*", maxLen: STREAM_MAX_LEN }],
        indexes: [
          { key: KEYS.completedIndex, record: "worker:completion:{member}" },
          { key: KEYS.failedIndex, record: "worker:failure:{member}" },
        ],
        orphans: [{ match: "job:*:meta", parent: "job:{1}", minAge: seconds(2 * DAY_MS) }],
      },
      "redis-offload": {
        ...schedule,
        schema,
        sources: [
          { match: "worker:completion:*", kind: "completed", timeField: "completed_at", hotFor: seconds(WINDOWS.completed.hotFor), archiveFor: seconds(WINDOWS.completed.archiveFor), index: KEYS.completedIndex },
          { match: "worker:failure:*", kind: "failed", timeField: "failed_at", hotFor: seconds(WINDOWS.failed.hotFor), archiveFor: seconds(WINDOWS.failed.archiveFor), index: KEYS.failedIndex },
        ],
      },
      "cdn-urls": {
        ...schedule,
        hosts: CDN_HOSTS,
        columns: [
          { table: `${schema}.flat_file`, column: "url" },
          { table: `${schema}.flat_file`, column: "meta" },
        ],
        progressTable: `${schema}.reclaim_cdn_urls_progress`,
      },
    },
  };
}

/** A redis-server of the scenario's own on a free port (no persistence), and a client on it. */
async function privateRedis(dir: string): Promise<{ url: string; redis: Redis; server: ChildProcess }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
  const redis = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 2, retryStrategy: (n) => (n > 100 ? null : 50) }).on("error", () => undefined);
  await eventually(async () => {
    if ((await redis.ping()) !== "PONG") throw new Error("redis-server not up yet");
  }, { timeoutMs: 10_000 });
  return { url: `redis://127.0.0.1:${port}`, redis, server };
}

/** The last lock line ("leader lock taken" / "releasing the leader lock") of `hook` in a replica's log tail. */
async function lastLockLine(replica: ReclaimProcess, hook: string): Promise<string | undefined> {
  const file = await open(replica.logPath, "r");
  try {
    const { size } = await file.stat();
    const length = Math.min(size, 16_384);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n").reverse();
    const line = lines.find((l) => l.includes(`"hook":"${hook}"`) && (l.includes('"msg":"leader lock taken"') || l.includes('"msg":"releasing the leader lock"')));
    return line?.includes("leader lock taken") ? "taken" : line ? "released" : undefined;
  } finally {
    await file.close();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const between = (samples: DaySample[], from: number, to: number) => samples.filter((s) => s.day >= from && s.day <= to);

/** Scenario "worker fleet": a month of a fleet's Redis and Postgres, kept bounded by two replicas. */
export function workerFleetScenario(): void {
  describe("worker fleet: two `reclaim start` replicas keep a month of a fleet's Redis and Postgres bounded", () => {
    const schema = `e2e_fleet_${randomBytes(4).toString("hex")}`;
    let dir = "";
    let redis: Redis | undefined;
    let redisServer: ChildProcess | undefined;
    let pool: pg.Pool | undefined;
    let fleet: Fleet | undefined;
    let replicas: ReclaimProcess[] = [];
    let victim: ReclaimProcess | undefined;
    let survivor: ReclaimProcess | undefined;
    let killedHolding: string[] = [];
    let simEnd = 0;
    let checkedAt = 0;
    let survivorExit: number | null = null;
    let stoppingAt = 0;
    const finalPass: Record<string, LockHold> = {};

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "reclaim-e2e-fleet-"));
      const claimed = await privateRedis(dir);
      redis = claimed.redis;
      redisServer = claimed.server;
      pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
      await pool.query(`CREATE SCHEMA "${schema}"`);
      fleet = new Fleet(redis, pool, schema);
      await fleet.createTables();
      await fleet.writeBacklog(Date.now());
      await fleet.sample(0);

      const configPath = join(dir, "reclaim.config.json");
      await writeFile(configPath, JSON.stringify(config(claimed.url, schema), null, 2));
      const env = { RECLAIM_LOG_LEVEL: "debug" };
      replicas = await Promise.all(["a", "b"].map((name) => startReclaim(["start", "-c", configPath], { env, logPath: join(dir, `replica-${name}.log`) })));

      // Mid-month, SIGKILL the replica that is inside a redis-offload pass (or, if none is caught within five
      // simulated days, the first one), without holding the fleet up.
      let killing: Promise<void> | undefined;
      const kill = async () => {
        const deadline = Date.now() + 5 * DAY_MS;
        while (!victim && Date.now() < deadline) {
          for (const replica of replicas) if ((await lastLockLine(replica, "redis-offload")) === "taken") victim = replica;
          if (!victim) await new Promise((resolve) => setTimeout(resolve, 10));
        }
        victim ??= replicas[0]!;
        await victim.kill();
        survivor = replicas.find((replica) => replica !== victim)!;
        killedHolding = lockHolds([victim]).filter((hold) => hold.killed).map((hold) => hold.hook);
      };
      await fleet.run(DAYS, async (day) => {
        if (day === KILL_DAY) killing = kill();
        if (process.env.FLEET_TRACE) console.error(`fleet: day ${day} ${new Date().toISOString()}`);
      });
      await killing;
      simEnd = Date.now();
      if (process.env.FLEET_TRACE) console.error(`fleet: simulation ended; logs in ${dir}`);

      // One whole pass of each hook that started after the last write.
      for (const hook of HOOKS) {
        finalPass[hook] = await eventually(
          async () => {
            const hold = lockHolds([survivor!]).find((h) => h.hook === hook && h.from > simEnd && Number.isFinite(h.to));
            if (!hold) throw new Error(`no complete ${hook} pass after the fleet stopped`);
            return hold;
          },
          { timeoutMs: 60_000 },
        );
      }
      stoppingAt = Date.now();
      if (process.env.FLEET_TRACE) console.error(`fleet: final passes ${JSON.stringify(finalPass)}; stopping ${survivor!.pid}`);
      survivorExit = await survivor!.stop();
      if (process.env.FLEET_TRACE) console.error(`fleet: survivor exited ${survivorExit}`);
      checkedAt = Date.now();
    });

    let failed = false;
    afterEach((ctx) => {
      if (ctx.task.result?.state !== "fail") return;
      failed = true;
      for (const replica of replicas) console.error(`--- last output of replica ${replica.pid} (${replica.logPath}) ---\n${replica.tail(40)}`);
    });

    afterAll(async () => {
      for (const replica of replicas) replica.child.kill("SIGKILL");
      redis?.disconnect();
      redisServer?.kill("SIGKILL");
      await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool?.end();
      if (failed) console.error(`fleet: the replicas' logs and config are kept in ${dir}`);
      else if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("Redis keys and memory reach a plateau instead of growing with the days; the stream stays near maxLen", () => {
      const samples = fleet!.samples;
      console.info(
        `fleet: day, keys, bytes (MEMORY USAGE), server used_memory, stream length, keys written, keys by kind\n${samples
          .map((s) => `  ${s.day}\t${s.keys}\t${s.bytes}\t${s.usedMemory}\t${s.streamLength}\t${Math.round(s.keysWritten)}\t${JSON.stringify(s.byKind)}`)
          .join("\n")}`,
      );
      // Both windows after the kill and the survivor's takeover (within lockTtl): one replica alone passes less often
      // than two, which lifts the plateau a little.
      const early = between(samples, KILL_DAY + 8, KILL_DAY + 12);
      const late = between(samples, DAYS - 4, DAYS);
      const written = median(late.map((s) => s.keysWritten)) - median(early.map((s) => s.keysWritten));
      const grown = median(late.map((s) => s.keys)) - median(early.map((s) => s.keys));
      // Without reclaim every key written would still be there: growth would equal `written` (without the offload
      // alone, ~75 % of it). One loaded replica passing every 2 to 7 s (days, here) moves the plateau by up to ~25 %.
      expect(written).toBeGreaterThan(3_000);
      expect(grown).toBeLessThan(0.35 * written);
      expect(median(late.map((s) => s.bytes))).toBeLessThan(1.3 * median(early.map((s) => s.bytes)));
      // The server is the scenario's own: its used_memory is the fleet's data plus the server's base, and levels off too.
      expect(median(late.map((s) => s.usedMemory))).toBeLessThan(1.3 * median(early.map((s) => s.usedMemory)));
      // The backlog (20,000 entries) is trimmed, and after every redis-ttl pass that walked the whole keyspace the
      // stream holds at most maxLen plus one macro node (~100 entries) and the events written since that pass started
      // (counted by the simulator, which writes in bursts when a loaded machine holds it up). The scan position is
      // shared in Redis: the pass after one cut short by the SIGKILL finishes that cycle, walking only the keys after
      // the saved cursor, so it does not count.
      const holds = lockHolds(replicas).filter((h) => h.hook === "redis-ttl");
      const passes = holds.filter((h, i) => !h.killed && Number.isFinite(h.to) && !holds[i - 1]?.killed);
      const writtenBy = (time: number) => fleet!.ticks.filter((tick) => tick.at <= time).at(-1)?.records ?? 0;
      const checked = samples.flatMap((sample) => {
        const last = passes.filter((h) => h.to <= sample.at).at(-1);
        if (!last) return [];
        const bound = STREAM_MAX_LEN + 100 + (sample.recordsWritten - writtenBy(last.from));
        return [{ day: sample.day, length: sample.streamLength, bound, over: sample.streamLength > bound, at: sample.at, lastPass: [last.from, last.to, last.pid] }];
      });
      expect(checked.length).toBeGreaterThan(DAYS - 5);
      if (checked.some((c) => c.over)) console.error(`fleet: stream checks ${JSON.stringify(checked)}`);
      expect(checked.filter((c) => c.over)).toEqual([]);
    });

    test("every completion and failure record is hot in Redis or archived exactly once, with the content written", async () => {
      const records = [...fleet!.records.values()];
      const exists = (await redis!.pipeline(records.map((r) => ["exists", r.key])).exec())!.map(([, n]) => Number(n) === 1);
      const { rows } = await pool!.query<{ key: string; kind: string; payload: unknown; time: number }>(
        `SELECT key, kind, payload, (extract(epoch FROM record_time) * 1000)::float8 AS time FROM "${schema}".reclaim_archive`,
      );
      const archived = new Map<string, typeof rows>();
      for (const row of rows) archived.set(row.key, [...(archived.get(row.key) ?? []), row]);
      const offloadFrom = finalPass["redis-offload"]!.from;
      const problems: Record<string, string[]> = { lost: [], duplicated: [], both: [], changed: [], archivedWhileHot: [], overdueInRedis: [], pastWindowArchived: [], unknownRows: [] };
      const counts = { hot: 0, archived: 0, pastWindow: 0 };
      const note = (what: string, record: WrittenRecord) => problems[what]!.push(`${record.key} (${new Date(record.time).toISOString()})`);
      records.forEach((record, i) => {
        const window = WINDOWS[record.kind];
        const copies = archived.get(record.key) ?? [];
        const inRedis = exists[i]!;
        if (copies.length > 1) note("duplicated", record);
        if (inRedis && copies.length > 0) note("both", record);
        for (const copy of copies) if (!isDeepStrictEqual(copy.payload, record.payload) || copy.time !== record.time || copy.kind !== record.kind) note("changed", record);
        if (record.time >= checkedAt - window.hotFor && copies.length > 0) note("archivedWhileHot", record);
        if (record.time < offloadFrom - window.hotFor && inRedis) note("overdueInRedis", record);
        if (record.time < offloadFrom - window.archiveFor && copies.length > 0) note("pastWindowArchived", record);
        if (!inRedis && copies.length === 0 && record.time >= checkedAt - window.archiveFor) note("lost", record);
        if (inRedis) counts.hot++;
        else if (copies.length > 0) counts.archived++;
        else counts.pastWindow++;
      });
      for (const row of rows) if (!fleet!.records.has(row.key)) problems.unknownRows!.push(row.key);
      console.info(`fleet: ${records.length} records written: ${counts.hot} hot in Redis, ${counts.archived} archived, ${counts.pastWindow} past their archive window`);
      expect(Object.fromEntries(Object.entries(problems).map(([what, keys]) => [what, keys.slice(0, 5)]))).toEqual({
        lost: [], duplicated: [], both: [], changed: [], archivedWhileHot: [], overdueInRedis: [], pastWindowArchived: [], unknownRows: [],
      });
      expect(counts.hot).toBeGreaterThan(0);
      expect(counts.archived).toBeGreaterThan(0);
      expect(counts.pastWindow).toBeGreaterThan(0);

      // The records still in Redis are as written, and the indexes hold exactly them.
      const hot = records.filter((_, i) => exists[i]);
      const contents = (await redis!.pipeline(hot.map((r) => (r.kind === "completed" ? ["hgetall", r.key] : ["get", r.key]))).exec())!;
      const asObject = (reply: unknown) => (Array.isArray(reply) ? Object.fromEntries(reply.flatMap((_, i) => (i % 2 === 0 ? [[reply[i], reply[i + 1]]] : []))) : reply);
      const altered = hot.filter((r, i) => !isDeepStrictEqual(r.kind === "completed" ? asObject(contents[i]![1]) : JSON.parse(String(contents[i]![1])), r.payload));
      expect(altered.map((r) => r.key)).toEqual([]);
      const indexed = new Set([...(await redis!.smembers(KEYS.completedIndex)), ...(await redis!.zrange(KEYS.failedIndex, "0", "-1"))]);
      const hotIds = new Set(hot.map((r) => r.id));
      expect([...indexed].filter((id) => !hotIds.has(id)).slice(0, 5)).toEqual([]);
      expect(hot.filter((r) => !indexed.has(r.id)).map((r) => r.key).slice(0, 5)).toEqual([]);
    });

    test("archive rows past their window are gone, and so is every partition wholly past it; drops and batched deletes both ran", async () => {
      const offloadFrom = finalPass["redis-offload"]!.from;
      const { rows } = await pool!.query<{ kind: string; past: string }>(
        `SELECT kind, count(*) FILTER (WHERE record_time < to_timestamp($1 / 1000.0) AND kind = 'completed'
                                     OR record_time < to_timestamp($2 / 1000.0) AND kind = 'failed') AS past
         FROM "${schema}".reclaim_archive GROUP BY kind`,
        [offloadFrom - WINDOWS.completed.archiveFor, offloadFrom - WINDOWS.failed.archiveFor],
      );
      expect(rows.map((r) => [r.kind, Number(r.past)]).sort()).toEqual([["completed", 0], ["failed", 0]]);
      const partitions = await pool!.query<{ name: string; bound: string }>(
        `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = 'reclaim_archive'`,
        [schema],
      );
      const longest = Math.max(WINDOWS.completed.archiveFor, WINDOWS.failed.archiveFor);
      const pastEveryWindow = partitions.rows.filter((p) => Date.parse(/TO \('([^']+)'\)/.exec(p.bound)![1]!.replace(" ", "T").replace(/\+00$/, "Z")) <= offloadFrom - longest);
      expect(pastEveryWindow.map((p) => p.name)).toEqual([]);
      // From the offload log lines of both replicas: the backlog's weeks went as whole partitions, live rows in batches.
      let dropped = 0;
      let deleted = 0;
      for (const replica of replicas) {
        for (const line of replica.logLines()) {
          const retention = line.retention as { partitionsDropped?: number; rowsDeleted?: Record<string, number> } | null | undefined;
          if (line.hook !== "redis-offload" || !retention) continue;
          dropped += retention.partitionsDropped ?? 0;
          deleted += Object.values(retention.rowsDeleted ?? {}).reduce((a, b) => a + b, 0);
        }
      }
      expect(dropped).toBeGreaterThan(0);
      expect(deleted).toBeGreaterThan(0);
    });

    test("no flat_file row holds a CDN host at the end; every row is the path of what was written, other hosts untouched", async () => {
      const { rows } = await pool!.query<Record<string, string>>(
        `SELECT count(*) AS rows,
                count(*) FILTER (WHERE url ~* 'cdn(-dev)?\\.example\\.ai' OR meta::text ~* 'cdn(-dev)?\\.example\\.ai') AS with_cdn,
                count(*) FILTER (WHERE url IS DISTINCT FROM CASE origin WHEN 'foreign' THEN 'https://images.example.org/' || asset || '.png'
                                                                       ELSE '/generations/' || asset || '/image.png' END) AS wrong_url,
                count(*) FILTER (WHERE meta IS DISTINCT FROM jsonb_build_object('thumb', '/generations/' || asset || '/thumb.png',
                                                                                'credit', 'https://images.example.org/credit/' || asset)) AS wrong_meta
         FROM "${schema}".flat_file`,
      );
      expect(Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]))).toEqual({ rows: fleet!.flatFiles, with_cdn: 0, wrong_url: 0, wrong_meta: 0 });
    });

    test("heartbeats, registrations, orphaned metadata and dangling members of the backlog are gone; running jobs kept their metadata", async () => {
      const stale = async (pattern: string) => {
        let found = 0;
        let cursor = "0";
        do {
          const [next, keys] = await redis!.scan(cursor, "MATCH", pattern, "COUNT", 1000);
          cursor = next;
          found += keys.length;
        } while (cursor !== "0");
        return found;
      };
      expect({
        heartbeats: await stale("worker:heartbeat:w-old-*"),
        machines: await stale("machine:m-old-*"),
        metas: await stale("job:old-*:meta"),
        danglingMembers: (await redis!.smembers(KEYS.completedIndex)).filter((m) => m.startsWith("gone-")).length,
        metaLostWhileRunning: fleet!.metaLostWhileRunning,
      }).toEqual({ heartbeats: 0, machines: 0, metas: 0, danglingMembers: 0, metaLostWhileRunning: 0 });
      const running = fleet!.runningJobs;
      const metas = (await redis!.pipeline(running.map((id) => ["exists", KEYS.meta(id)])).exec())!.filter(([, n]) => Number(n) === 1).length;
      expect(metas).toBe(running.length);
    });

    test("no two passes of one hook overlapped across the replicas, before or after one was SIGKILLed mid-pass; no pass failed", () => {
      const holds = lockHolds(replicas);
      expect(overlappingHolds(holds)).toEqual([]);
      const killedAt = victim!.killedAt!;
      console.info(`fleet: replica ${victim!.pid} SIGKILLed on day ${KILL_DAY} holding the lock of [${killedHolding.join(", ")}]; survivor ${survivor!.pid} exited ${survivorExit}`);
      // Both replicas did passes before the kill (one may win every turn of a given hook)...
      for (const replica of replicas) expect(holds.some((h) => h.pid === replica.pid && h.from < killedAt), `passes of ${replica.pid}`).toBe(true);
      for (const hook of HOOKS) {
        // ...took turns: a pass found the lock taken...
        const skipped = replicas.flatMap((r) => r.logLines()).filter((l) => l.hook === hook && l.msg === "another replica holds the leader lock; pass skipped");
        expect(skipped.length, `${hook} skipped passes`).toBeGreaterThan(0);
        // ...and the survivor carried on alone.
        expect(holds.some((h) => h.hook === hook && h.pid === survivor!.pid && h.from > killedAt), `${hook} after the kill`).toBe(true);
      }
      // A pass whose lock renewals went unconfirmed for half the TTL is aborted (safe: the next one redoes it); none failed.
      const lines = replicas.flatMap((r) => r.logLines()).filter((l) => (l.time ?? 0) < stoppingAt);
      const aborted = lines.filter((l) => l.msg === "pass aborted").length;
      console.info(`fleet: ${holds.length} passes held a lock, ${aborted} aborted (lock lost) before the final SIGTERM`);
      expect(lines.filter((l) => l.msg === "pass failed").map((l) => `${l.hook}: ${JSON.stringify(l.err)}`)).toEqual([]);
      expect(survivorExit).toBe(0);
    });
  });
}
