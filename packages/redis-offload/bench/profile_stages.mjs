// Where the time of a pass goes, stage by stage (batches run one after another here, one stage at a time, so each
// stage's cost can be read off). Seeds N records (default 50,000 JSON strings of ~500 bytes, all past hotFor) under
// `stages:` in REDIS_URL, then per batch: the read scripts, classify (JSON, time, SHA-1), the Postgres write (one
// transaction), the compare-and-delete scripts. Prints per record: wall time, and CPU time of this Node process, of
// the Redis server (INFO cpu) and of the Postgres backend (/proc/PID/stat, 10 ms ticks: read it as an estimate).
//   pnpm build; REDIS_URL=redis://127.0.0.1:6390/5 DATABASE_URL=... node packages/redis-offload/bench/profile_stages.mjs
import { Redis } from "ioredis";
import pg from "pg";
import { loadScripts } from "../dist/_redis_io.js";
import { classify } from "../dist/_record.js";
import { readFileSync } from "node:fs";
import { ensureArchiveTable, ensurePartition, partitionBounds, writeBatch } from "../dist/_archive.js";

const N = Number(process.env.N ?? 50_000);
const BATCH = Number(process.env.BATCH ?? 1000);
const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6390/5");
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5439/postgres", max: 1 }); // one backend: its CPU is the write's
const NOW = Date.now();
const DAY = 86_400_000;
const target = { schema: "bench_stages", table: "reclaim_archive", partition: "month", lockTimeout: 2000 };
await pool.query("DROP SCHEMA IF EXISTS bench_stages CASCADE");
await ensureArchiveTable(pool, target);
for (let m = 0; m < 4; m++) await ensurePartition(pool, target, partitionBounds("month", NOW - m * 30 * DAY).from);
const key = (i) => `stages:${String(i).padStart(7, "0")}`;
for (let s = 0; s < N; s += 10_000) {
  const p = redis.pipeline();
  for (let i = s; i < Math.min(N, s + 10_000); i++) {
    const body = { job_id: `job-${i}`, worker: `worker-${i % 64}`, completed_at: NOW - (8 + (i % 50)) * DAY, status: "completed", attestation: "" };
    body.attestation = "a".repeat(500 - JSON.stringify(body).length);
    p.set(key(i), JSON.stringify(body));
  }
  await p.exec();
}
const scripts = await loadScripts(redis, undefined, false);
const backend = (await pool.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
const pgCpuMs = () => {
  const fields = readFileSync(`/proc/${backend}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 10 ms ticks
};
const redisCpuMs = async () => {
  const info = await redis.info("cpu");
  const get = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)[1]);
  return (get("used_cpu_user") + get("used_cpu_sys")) * 1000;
};
const stages = Object.fromEntries(["read", "classify", "write", "delete"].map((name) => [name, { wall: 0, node: 0, sys: 0, redis: 0, postgres: 0 }]));
async function timed(name, fn) {
  const r0 = await redisCpuMs(); const p0 = pgCpuMs();
  const c = process.cpuUsage(); const t = performance.now();
  const r = await fn();
  const d = process.cpuUsage(c);
  const stage = stages[name];
  stage.wall += performance.now() - t; stage.node += (d.user + d.system) / 1000; stage.sys += d.system / 1000;
  stage.redis += (await redisCpuMs()) - r0; stage.postgres += pgCpuMs() - p0;
  return r;
}
for (let s = 0; s < N; s += BATCH) {
  const keys = Array.from({ length: Math.min(BATCH, N - s) }, (_, j) => key(s + j));
  const replies = await timed("read", () => scripts.read(keys, keys));
  const rows = await timed("classify", () => replies.map((r, i) => {
    const c = classify(r.type, r.content, "completed_at");
    return { key: keys[i], kind: "completed", redisType: c.redisType, payload: c.payload, time: c.time, digest: c.digest, expected: c.expected, member: keys[i], bytes: c.bytes };
  }));
  await timed("write", () => writeBatch(pool, target, rows));
  await timed("delete", () => scripts.compareAndDelete(rows));
}
const us = (ms) => (ms / N * 1000).toFixed(1).padStart(7);
console.log(`${N} records, batches of ${BATCH}; µs per record:        wall    Node (of it kernel)   Redis  Postgres (CPU)`);
for (const [name, s] of Object.entries(stages)) console.log(`  ${name.padEnd(38)} ${us(s.wall)} ${us(s.node)} ${us(s.sys)}        ${us(s.redis)} ${us(s.postgres)}`);
await pool.query("DROP SCHEMA IF EXISTS bench_stages CASCADE");
await pool.end(); redis.disconnect();
