import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type pg from "pg";

// A fleet of workers, as the seed's housekeeping incident describes it (../shared/seeds/housekeeping-tasks.txt):
// heartbeats and machine registrations written with plain SET (no TTL), a completion record per finished job (a
// hash, indexed in a set) or a failure record (a JSON string, indexed in a sorted set), an event stream, per-job
// metadata that outlives its job, and a `flat_file` table whose rows arrive with full CDN URLs. Time is compressed:
// one simulated day is DAY_MS of real time, and reclaim's durations in the scenario's config are given in the same
// unit (hotFor "5s" = five simulated days). The backlog written before reclaim starts is back-dated in real days.

/** One simulated day, in real milliseconds. */
export const DAY_MS = 1_000;
const TICK_MS = 100;
const TICKS_PER_DAY = DAY_MS / TICK_MS;

/** Per simulated day (each record also adds one stream entry). */
export const RATES = { completions: 300, failures: 40, flatFiles: 100, flatFileRewrites: 20, workerChurn: 4, machineChurn: 2 };
const WORKERS = 20;
const MACHINES = 10;
/** Share of jobs whose metadata the worker forgets to delete (orphans). */
const ORPHAN_SHARE = 0.3;
/** Share of records that arrive late, back-dated by up to LATE_DAYS simulated days (a worker that was offline). */
const LATE_SHARE = 0.05;
const LATE_DAYS = 7;

export const CDN_HOSTS = ["cdn.example.ai", "cdn-dev.example.ai"];
/** Where the records of one kind sit, and their index. */
export const KEYS = {
  completion: (id: string) => `worker:completion:${id}`,
  failure: (id: string) => `worker:failure:${id}`,
  completedIndex: "jobs:completed",
  failedIndex: "jobs:failed",
  heartbeat: (worker: string) => `worker:heartbeat:${worker}`,
  machine: (machine: string) => `machine:${machine}`,
  job: (id: string) => `job:${id}`,
  meta: (id: string) => `job:${id}:meta`,
  stream: "events:fleet",
};

/** A completion or failure record as written: what the archive must hold if it leaves Redis. */
export interface WrittenRecord {
  key: string;
  id: string;
  kind: "completed" | "failed";
  /** Its time (ms): `completed_at` / `failed_at`. */
  time: number;
  /** The payload the archive stores: a hash's fields, or the JSON string's value. */
  payload: unknown;
}

/** One sample per simulated day. */
export interface DaySample {
  day: number;
  /** When it was taken (ms). */
  at: number;
  /** Keys in the scenario's Redis database. */
  keys: number;
  /** Sum of MEMORY USAGE (SAMPLES 0) of those keys. */
  bytes: number;
  /** INFO used_memory of the whole server (shared with whatever else runs on it). */
  usedMemory: number;
  streamLength: number;
  /** Keys by kind: completion, failure, job, meta, heartbeat, machine, reclaim (its own state), other. */
  byKind: Record<string, number>;
  /** Completion and failure records written so far (live and backlog), and what writes of any kind added up to. */
  recordsWritten: number;
  keysWritten: number;
}

function kindOf(key: string): string {
  if (key.startsWith("worker:completion:")) return "completion";
  if (key.startsWith("worker:failure:")) return "failure";
  if (key.startsWith("worker:heartbeat:")) return "heartbeat";
  if (key.startsWith("machine:")) return "machine";
  if (key.startsWith("job:")) return key.endsWith(":meta") ? "meta" : "job";
  if (key.startsWith("reclaim:")) return "reclaim";
  return "other";
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** Writes the fleet's data; `records` keeps every completion and failure record it ever wrote. */
export class Fleet {
  readonly records = new Map<string, WrittenRecord>();
  readonly samples: DaySample[] = [];
  /** After each tick: when its writes were done, and how many records (= stream events) were written by then. */
  readonly ticks: Array<{ at: number; records: number }> = [];
  /** Rows of flat_file committed so far. */
  flatFiles = 0;
  /** Jobs whose metadata went missing while the job was still running (must stay 0). */
  metaLostWhileRunning = 0;
  keysWritten = 0;
  readonly #redis: Redis;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  #workers: string[] = [];
  #machines: string[] = [];
  #running: string[] = [];
  #seq = 0;

  constructor(redis: Redis, pool: pg.Pool, schema: string) {
    this.#redis = redis;
    this.#pool = pool;
    this.#schema = schema;
    for (let i = 0; i < WORKERS; i++) this.#workers.push(`w-${randomUUID().slice(0, 8)}`);
    for (let i = 0; i < MACHINES; i++) this.#machines.push(`m-${randomUUID().slice(0, 8)}`);
  }

  /** Jobs still running (their job key and metadata must both be there). */
  get runningJobs(): readonly string[] {
    return this.#running;
  }

  get flatFileTable(): string {
    return `"${this.#schema}".flat_file`;
  }

  async createTables(): Promise<void> {
    await this.#pool.query(`CREATE TABLE ${this.flatFileTable} (
      id bigserial PRIMARY KEY, asset uuid NOT NULL, origin text NOT NULL, url text NOT NULL, meta jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now())`);
  }

  /**
   * What the service wrote in the six weeks before reclaim was deployed, back-dated in real days: records of every
   * day (and members of records long gone), heartbeats of workers that stopped, stale registrations (some with a
   * month-long TTL), metadata of finished jobs, a long event stream, and flat_file rows with full CDN URLs.
   */
  async writeBacklog(now: number): Promise<void> {
    const day = 86_400_000;
    const pipeline = this.#redis.pipeline();
    // The stream first: its back-dated ids must be older than the ones the records' events get ("*").
    for (let i = 0; i < 20_000; i++) {
      pipeline.xadd(KEYS.stream, `${Math.floor(now - 42 * day + i * ((42 * day) / 20_000))}-0`, "type", "completed", "job", `old-${i}`);
    }
    for (let i = 0; i < 2_500; i++) this.#record(pipeline, "completed", now - Math.random() * 42 * day);
    for (let i = 0; i < 500; i++) this.#record(pipeline, "failed", now - Math.random() * 42 * day);
    for (let i = 0; i < 200; i++) pipeline.sadd(KEYS.completedIndex, `gone-${i}`); // records expired long ago
    for (let i = 0; i < 200; i++) pipeline.set(KEYS.heartbeat(`w-old-${i}`), String(now - day));
    for (let i = 0; i < 100; i++) {
      if (i % 2 === 0) pipeline.set(KEYS.machine(`m-old-${i}`), JSON.stringify({ host: `old-${i}` }));
      else pipeline.set(KEYS.machine(`m-old-${i}`), JSON.stringify({ host: `old-${i}` }), "EX", 30 * 86_400);
    }
    for (let i = 0; i < 1_000; i++) pipeline.hset(KEYS.meta(`old-${i}`), { worker: "w-old", attempts: "1" });
    this.keysWritten += 200 + 100 + 1_000 + 1; // the records count themselves
    const failed = ((await pipeline.exec()) ?? []).filter(([err]) => err);
    if (failed.length > 0) throw new Error(`backlog: ${failed.length} commands failed, first: ${failed[0]![0]!.message}`);
    await this.#insertFlatFiles(5_000);
  }

  /** Runs the fleet for `days` simulated days, sampling Redis once a day; `onDay(day)` is awaited after each sample. */
  async run(days: number, onDay: (day: number) => Promise<void> = async () => undefined): Promise<void> {
    const start = Date.now();
    const longTransactions: Promise<void>[] = [];
    for (let tick = 0; tick < days * TICKS_PER_DAY; tick++) {
      const day = Math.floor(tick / TICKS_PER_DAY);
      if (tick % TICKS_PER_DAY === 0) {
        this.#churn();
        // Every third day a writer keeps a transaction open for most of a day while it inserts: rows committed
        // after a cdn-urls pass started must still be found by a later pass.
        if (day % 3 === 1) longTransactions.push(this.#longTransaction());
      }
      await this.#tick();
      if ((tick + 1) % TICKS_PER_DAY === 0) {
        await this.sample(day + 1);
        await onDay(day + 1);
      }
      const wait = start + (tick + 1) * TICK_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await Promise.all(longTransactions);
  }

  /** Records keys, memory and stream length of the scenario's database. */
  async sample(day: number): Promise<DaySample> {
    let keys = 0;
    let bytes = 0;
    const byKind: Record<string, number> = {};
    let cursor = "0";
    do {
      const [next, batch] = await this.#redis.scan(cursor, "COUNT", 1000);
      cursor = next;
      keys += batch.length;
      for (const key of batch) byKind[kindOf(key)] = (byKind[kindOf(key)] ?? 0) + 1;
      const pipeline = this.#redis.pipeline();
      for (const key of batch) pipeline.memory("USAGE", key, "SAMPLES", 0);
      for (const [, size] of (await pipeline.exec()) ?? []) bytes += Number(size ?? 0);
    } while (cursor !== "0");
    const info = await this.#redis.info("memory");
    const sample: DaySample = {
      day,
      at: Date.now(),
      keys,
      bytes,
      usedMemory: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0),
      streamLength: await this.#redis.xlen(KEYS.stream),
      byKind,
      recordsWritten: this.records.size,
      keysWritten: this.keysWritten,
    };
    this.samples.push(sample);
    return sample;
  }

  #churn(): void {
    for (let i = 0; i < RATES.workerChurn; i++) this.#workers.splice(Math.floor(Math.random() * this.#workers.length), 1, `w-${randomUUID().slice(0, 8)}`);
    for (let i = 0; i < RATES.machineChurn; i++) this.#machines.splice(Math.floor(Math.random() * this.#machines.length), 1, `m-${randomUUID().slice(0, 8)}`);
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    const pipeline = this.#redis.pipeline();
    // Heartbeats and registrations: plain SET, as the workers do (a SET drops the TTL reclaim gave the key).
    for (const worker of this.#workers) pipeline.set(KEYS.heartbeat(worker), String(now));
    for (const machine of this.#machines) pipeline.set(KEYS.machine(machine), JSON.stringify({ host: machine, seen: now }));
    this.keysWritten += (RATES.workerChurn + RATES.machineChurn) / TICKS_PER_DAY;
    // Jobs started in the previous tick finish now: the worker checks its metadata is still there, then deletes the
    // job (and, most of the time, its metadata).
    const finishing = this.#running;
    this.#running = [];
    const metas = await this.#redis.pipeline(finishing.map((id) => ["exists", KEYS.meta(id)])).exec();
    for (const [, exists] of metas ?? []) if (Number(exists) !== 1) this.metaLostWhileRunning++;
    for (const id of finishing) {
      if (Math.random() < ORPHAN_SHARE) {
        pipeline.del(KEYS.job(id));
        this.keysWritten++;
      } else pipeline.del(KEYS.job(id), KEYS.meta(id));
    }
    const perTick = (rate: number) => Math.floor(rate / TICKS_PER_DAY) + (Math.random() < (rate / TICKS_PER_DAY) % 1 ? 1 : 0);
    const completions = perTick(RATES.completions);
    const failures = perTick(RATES.failures);
    for (let i = 0; i < completions; i++) this.#record(pipeline, "completed", this.#time(now));
    for (let i = 0; i < failures; i++) this.#record(pipeline, "failed", this.#time(now));
    for (let i = 0; i < completions + failures; i++) {
      const id = `j${++this.#seq}`;
      pipeline.call("MULTI").hset(KEYS.job(id), { worker: pick(this.#workers), started: String(now) }).hset(KEYS.meta(id), { attempts: "1", machine: pick(this.#machines) }).call("EXEC");
      this.#running.push(id);
    }
    const failed = ((await pipeline.exec()) ?? []).filter(([err]) => err);
    if (failed.length > 0) throw new Error(`fleet: ${failed.length} commands failed, first: ${failed[0]![0]!.message}`);
    this.ticks.push({ at: Date.now(), records: this.records.size });
    await this.#insertFlatFiles(perTick(RATES.flatFiles));
    await this.#rewriteFlatFiles(perTick(RATES.flatFileRewrites));
  }

  /** Now, or (LATE_SHARE of records) up to LATE_DAYS simulated days ago. */
  #time(now: number): number {
    return Math.random() < LATE_SHARE ? now - Math.random() * LATE_DAYS * DAY_MS : now;
  }

  #record(pipeline: ReturnType<Redis["pipeline"]>, kind: WrittenRecord["kind"], time: number): void {
    const id = randomUUID();
    const worker = pick(this.#workers);
    // Record and index member in one MULTI: a member never exists without its record, nor the reverse.
    if (kind === "completed") {
      const fields = { job_id: id, worker, completed_at: String(Math.floor(time)), output: `/generations/${id}/image.png`, duration_ms: String(100 + Math.floor(Math.random() * 5_000)) };
      pipeline.call("MULTI").hset(KEYS.completion(id), fields).sadd(KEYS.completedIndex, id).call("EXEC");
      this.records.set(KEYS.completion(id), { key: KEYS.completion(id), id, kind, time: Math.floor(time), payload: fields });
    } else {
      const value = { job_id: id, worker, failed_at: new Date(Math.floor(time)).toISOString(), error: { code: "E_RENDER", message: "render timed out" } };
      pipeline.call("MULTI").set(KEYS.failure(id), JSON.stringify(value)).zadd(KEYS.failedIndex, Math.floor(time), id).call("EXEC");
      this.records.set(KEYS.failure(id), { key: KEYS.failure(id), id, kind, time: Math.floor(time), payload: value });
    }
    pipeline.xadd(KEYS.stream, "*", "type", kind, "job", id);
    this.keysWritten++;
  }

  /** New rows the way old code writes them: full CDN URLs (a tenth on another host, a tenth already paths). */
  async #insertFlatFiles(count: number, client: pg.Pool | pg.PoolClient = this.#pool): Promise<void> {
    if (count === 0) return;
    const values: string[] = [];
    for (let i = 0; i < count; i++) {
      const r = Math.random();
      values.push(r < 0.1 ? "foreign" : r < 0.2 ? "path" : r < 0.6 ? "cdn" : "cdn-dev");
    }
    await client.query(
      `INSERT INTO ${this.flatFileTable} (asset, origin, url, meta)
       SELECT asset, origin,
              CASE origin WHEN 'foreign' THEN 'https://images.example.org/' || asset || '.png'
                          WHEN 'path' THEN '/generations/' || asset || '/image.png'
                          WHEN 'cdn' THEN 'https://cdn.example.ai/generations/' || asset || '/image.png'
                          ELSE 'https://CDN-DEV.example.ai:443/generations/' || asset || '/image.png' END,
              jsonb_build_object('thumb', 'https://cdn.example.ai/generations/' || asset || '/thumb.png',
                                 'credit', 'https://images.example.org/credit/' || asset)
       FROM (SELECT gen_random_uuid() AS asset, unnest($1::text[]) AS origin) AS fresh`,
      [values],
    );
    this.flatFiles += count;
  }

  /** Old code saving an existing row again, with the full URL. */
  async #rewriteFlatFiles(count: number): Promise<void> {
    if (count === 0) return;
    await this.#pool.query(
      `UPDATE ${this.flatFileTable} SET url = 'https://cdn.example.ai/generations/' || asset || '/image.png',
              meta = jsonb_set(meta, '{thumb}', to_jsonb('https://cdn-dev.example.ai/generations/' || asset || '/thumb.png'))
       WHERE origin <> 'foreign' AND id IN (SELECT id FROM ${this.flatFileTable} ORDER BY random() LIMIT $1)`,
      [count],
    );
  }

  /** A transaction that inserts, stays open for most of a simulated day, inserts again, then commits. */
  async #longTransaction(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      await this.#insertFlatFiles(5, client);
      await new Promise((resolve) => setTimeout(resolve, 0.8 * DAY_MS));
      await this.#insertFlatFiles(5, client);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
