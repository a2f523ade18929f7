// Benchmark: offload 750,000 of 1,000,000 completion records (~500-byte JSON strings, the other 250,000 inside hotFor)
// from a Redis of its own to Postgres, against
//   - the naive loop (GET, INSERT, DEL one record at a time) on a 20,000-record sample, extrapolated to 750,000;
//   - the floor: COPY of the same 750,000 payloads from a file into an equivalent table + a pipelined UNLINK of the keys.
// Meanwhile a separate client PINGs the Redis once a millisecond (max and p99 latency; Redis's own LATENCY LATEST and
// the time per call of the busiest commands tell Redis being busy from the PING client being starved), and the pass
// runs in its own process with the node flags `reclaim` runs with (peak RSS, its CPU). The CPU of every process and
// the cores' busy share are printed for our pass and the floor (scripts/bench/cpu.mjs). Latency isolation
// (scripts/bench/latency.mjs; ISOLATE=0 to turn it off, ISOLATE=server to let the contenders use both cores):
// redis-server's main thread and the PING client share core 0 at real-time priority (chrt -f, throttling lifted),
// everything else of the benchmark (this process, our pass, psql, the naive loop) runs on core 1; Postgres and Redis's
// background threads run where the scheduler puts them. Autovacuum's aftermath of one step is waited out before the next.
//
//   pnpm build
//   node packages/redis-offload/bench/offload_bench.mjs
//
// RECORDS (default 1000000), SAMPLE (naive loop, default 20000), RUNS (A/B rounds, default 1), WARMUP (rounds run
// first and not reported, default 1: see below), BATCH and CONCURRENCY
// (the hook's batchSize and concurrency; default: the hook's defaults), OURS_NODE_ARGS (more node flags for our pass,
// e.g. --cpu-prof), VERBOSE=1 (Redis's latency events), REDIS_SERVER (default redis-server; started on a free port).
//
// PG=durable (the default) runs ours, the floor and the naive loop against a temporary Postgres of the benchmark's
// own with the server's default durability — fsync, synchronous_commit and full_page_writes on, data on the real
// disk — started on a free port (5449 if free) and removed at exit (scripts/bench/postgres.mjs). PG=test runs them
// against DATABASE_URL (default: the test suite's server, which scripts/services.sh starts with fsync=off and
// full_page_writes=off: commits cost next to nothing there, a naive loop's one commit per record too). Either way a
// schema `bench_offload` is created and dropped, and the settings measured are printed.
import { execFile, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync, createReadStream } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { cpuSince, cpuSnapshot, formatCpu } from "../../../scripts/bench/cpu.mjs";
import { benchPostgres, describePostgres, freePort } from "../../../scripts/bench/postgres.mjs";
import { isolation, serverCommand, toContenderCore, withRedisLatency } from "../../../scripts/bench/latency.mjs";
import { reclaimNodeFlags } from "../../../scripts/bench/reclaim_flags.mjs";

const RECORDS = Number(process.env.RECORDS ?? 1_000_000);
const OLD = Math.round(RECORDS * 0.75);
const SAMPLE = Number(process.env.SAMPLE ?? 20_000);
const RUNS = Number(process.env.RUNS ?? 1);
// Rounds run first and not reported: this VM hands freed memory back to its host (free page reporting) and pages out
// memory left cold (DAMON), so the first round after a quiet spell pays for faulting it all back in — Postgres's CPU
// for the same rows measured 20.6-23.3 s in such rounds against 11.8-12.3 s in the next (perf: page faults and
// zeroing inside COPY). The floor, run after ours, found the memory warm: without a warm-up the first ratio is ours
// paying for the machine.
const WARMUP = Number(process.env.WARMUP ?? 1);
const DAY = 86_400_000;
const NOW = Date.now();
const SCHEMA = "bench_offload";
const here = new URL(".", import.meta.url).pathname;

// Autovacuum off while measuring (AUTOVACUUM=on keeps it): its vacuum and analyze of freshly loaded rows is Postgres'
// background maintenance, the same for both, but it lands inside our pass (which commits batch by batch, as it must
// before deleting from Redis) and after the floor's single COPY: it cost our pass 2-11 s of Postgres CPU in one
// quiet run. The durable cluster starts with it off; on the test server it is turned off and restored at exit.
const AUTOVACUUM_OFF = process.env.AUTOVACUUM !== "on";
// Before this process moves to the contenders' core: the cluster would inherit it.
const postgres = await benchPostgres(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5439/postgres", AUTOVACUUM_OFF ? ["-c", "autovacuum=off"] : []);
const DATABASE_URL = postgres.url;
const dir = mkdtempSync(join(tmpdir(), "offload-bench-"));
const port = await freePort();
toContenderCore(process.pid); // children (our pass, psql) inherit core 1
const [serverBin, serverArgs] = serverCommand(process.env.REDIS_SERVER ?? "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]);
const server = spawn(serverBin, serverArgs, { stdio: "ignore" });
process.once("exit", () => server.kill()); // also when interrupted: left running, it would hold core 0 at real-time priority
const redisUrl = `redis://127.0.0.1:${port}`;
const redis = new Redis(redisUrl, { retryStrategy: (n) => (n > 50 ? null : 100) });
redis.on("error", () => undefined); // the server may take a moment to listen
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
const autovacuumWas = (await pool.query("SHOW autovacuum")).rows[0].autovacuum;
const autovacuumOff = AUTOVACUUM_OFF && autovacuumWas === "on"; // to turn off here, and restore
let autovacuumRestored = !autovacuumOff;
if (autovacuumOff) {
  await pool.query("ALTER SYSTEM SET autovacuum = off");
  await pool.query("SELECT pg_reload_conf()");
  // also when the run is interrupted (SIGINT exits without running the finally below)
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
  process.once("exit", () => {
    if (!autovacuumRestored) execFileSync("psql", [DATABASE_URL, "-qc", "ALTER SYSTEM RESET autovacuum", "-c", "SELECT pg_reload_conf()"], { stdio: "ignore" });
  });
}
try {
  await redis.ping();
  await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await pool.query(`CREATE SCHEMA ${SCHEMA}`);
  console.log(isolation);
  console.log(await describePostgres(pool));
  console.log(AUTOVACUUM_OFF ? "Postgres autovacuum off during the run (AUTOVACUUM=on keeps it)" : `Postgres autovacuum ${autovacuumWas}`);
  const results = [];
  for (let run = 0; run < WARMUP; run++) {
    const warm = await round(`warm-up ${run}`, false);
    console.log(`warm-up round ${run}: ours ${(warm.ours.ms / 1000).toFixed(1)} s, floor ${(warm.floor.ms / 1000).toFixed(1)} s (not reported)`);
  }
  for (let run = 0; run < RUNS; run++) results.push(await round(run));
  report(results);
} finally {
  if (autovacuumOff) {
    await pool.query("ALTER SYSTEM RESET autovacuum");
    await pool.query("SELECT pg_reload_conf()");
    autovacuumRestored = true;
  }
  await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
  await pool.end();
  redis.disconnect();
  server.kill();
  rmSync(dir, { recursive: true, force: true });
  postgres.stop?.();
}

function key(i) {
  return `worker:completion:${String(i).padStart(7, "0")}`;
}

function record(i) {
  const old = i < OLD;
  const completedAt = old ? NOW - (8 + (i % 50)) * DAY - (i % 86_400) * 1000 : NOW - (i % 6) * DAY;
  const body = { job_id: `job-${i}`, worker: `worker-${i % 64}`, completed_at: completedAt, status: "completed", attestation: "" };
  body.attestation = "a".repeat(500 - JSON.stringify(body).length);
  return JSON.stringify(body);
}

async function seed(from, to) {
  for (let start = from; start < to; start += 10_000) {
    const batch = redis.pipeline();
    for (let i = start; i < Math.min(to, start + 10_000); i++) batch.set(key(i), record(i));
    await batch.exec();
  }
}

async function round(run, naive = true) {
  const out = { load: loadavg().map((l) => l.toFixed(2)).join(" ") };
  // The machine's own PING jitter: the PING client for 5 s against an idle Redis.
  out.idlePing = (await withPinger(() => new Promise((resolve) => setTimeout(resolve, 5_000)))).ping;
  // A: ours
  await redis.flushall(); // our own server
  await seed(0, RECORDS);
  await pool.query(`DROP TABLE IF EXISTS ${SCHEMA}.reclaim_archive, ${SCHEMA}.floor, ${SCHEMA}.naive`);
  await autovacuumDone();
  const options = { sources: [{ match: "worker:completion:*", kind: "completed", timeField: "completed_at", hotFor: "7d", archiveFor: "90d" }], schema: SCHEMA, ...(process.env.BATCH ? { batchSize: Number(process.env.BATCH) } : {}), ...(process.env.CONCURRENCY ? { concurrency: Number(process.env.CONCURRENCY) } : {}) };
  let cpu = cpuSnapshot();
  const pass = await withPinger(() =>
    execFileAsync(process.execPath, [...reclaimNodeFlags, ...(process.env.OURS_NODE_ARGS ?? "").split(" ").filter(Boolean), join(here, "_ours.mjs"), JSON.stringify({ redisUrl, databaseUrl: DATABASE_URL, options, now: NOW })], { maxBuffer: 1 << 24 }),
  );
  out.oursCpu = cpuSince(cpu);
  const { stdout, stderr } = pass.result;
  if (process.env.VERBOSE || !stdout.includes("\"outcome\":\"success\"")) process.stderr.write(stderr);
  out.ping = pass.ping;
  out.serverMaxMs = pass.serverMaxMs;
  out.commands = pass.commands;
  const ours = JSON.parse(stdout.trim().split("\n").pop());
  out.ours = ours;
  const left = await redis.dbsize();
  const archived = Number((await pool.query(`SELECT count(*) FROM ${SCHEMA}.reclaim_archive`)).rows[0].count);
  if (left !== RECORDS - OLD || archived !== OLD) throw new Error(`ours: ${left} keys left, ${archived} archived`);
  console.error(`run ${run}: ours ${(ours.ms / 1000).toFixed(1)} s, ${ours.maxRssMiB.toFixed(0)} MiB, ping max ${out.ping.max.toFixed(1)} ms`);

  // B: floor — the same 750,000 payloads: COPY from a file into an equivalent table, then a pipelined UNLINK.
  await seed(0, OLD);
  await autovacuumDone(); // the archive's vacuum and analyze after our 750,000 inserts: not during the floor's run
  const file = join(dir, "floor.tsv");
  writeFileSync(
    file,
    Array.from({ length: OLD }, (_, i) => {
      const value = record(i);
      const digest = createHash("sha1").update("s").update(value).digest("hex");
      return `${key(i)}\tcompleted\tstring\t${value.replace(/\\/g, "\\\\")}\t${new Date(JSON.parse(value).completed_at).toISOString()}\t\\\\x${digest}\n`;
    }).join(""),
  );
  await pool.query(
    `CREATE TABLE ${SCHEMA}.floor (key text NOT NULL, kind text NOT NULL, redis_type text NOT NULL, payload jsonb NOT NULL, record_time timestamptz NOT NULL,
       archived_at timestamptz NOT NULL DEFAULT now(), digest bytea NOT NULL, PRIMARY KEY (key, record_time, digest)) PARTITION BY RANGE (record_time)`,
  );
  await pool.query(`CREATE INDEX ON ${SCHEMA}.floor (kind, record_time)`);
  await pool.query(`CREATE TABLE ${SCHEMA}.floor_all PARTITION OF ${SCHEMA}.floor FOR VALUES FROM (MINVALUE) TO (MAXVALUE)`);
  let copyMs = 0;
  let unlinkMs = 0;
  cpu = cpuSnapshot();
  const floor = await withPinger(async () => {
    let t = performance.now();
    await promisify(execFile)("psql", [DATABASE_URL, "-q", "-c", `\\copy ${SCHEMA}.floor (key, kind, redis_type, payload, record_time, digest) FROM '${file}'`]);
    copyMs = performance.now() - t;
    t = performance.now();
    for (let start = 0; start < OLD; start += 1_000) {
      const batch = redis.pipeline();
      batch.unlink(...Array.from({ length: Math.min(1_000, OLD - start) }, (_, j) => key(start + j)));
      await batch.exec();
    }
    unlinkMs = performance.now() - t;
  });
  out.floorCpu = cpuSince(cpu);
  out.floorPing = floor.ping;
  out.floorServerMaxMs = floor.serverMaxMs;
  out.floor = { copyMs, unlinkMs, ms: copyMs + unlinkMs };
  console.error(`run ${run}: floor ${((copyMs + unlinkMs) / 1000).toFixed(1)} s (COPY ${(copyMs / 1000).toFixed(1)} s + UNLINK ${(unlinkMs / 1000).toFixed(1)} s)`);

  if (!naive) return out;
  // Naive: GET, INSERT, DEL one record at a time, on a sample.
  await seed(0, SAMPLE);
  await pool.query(`CREATE TABLE ${SCHEMA}.naive (key text PRIMARY KEY, payload jsonb NOT NULL, record_time timestamptz NOT NULL)`);
  const t = performance.now();
  for (let i = 0; i < SAMPLE; i++) {
    const value = await redis.get(key(i));
    await pool.query(`INSERT INTO ${SCHEMA}.naive (key, payload, record_time) VALUES ($1, $2, $3)`, [key(i), value, new Date(JSON.parse(value).completed_at)]);
    await redis.del(key(i));
  }
  const naiveMs = performance.now() - t;
  out.naive = { sampleMs: naiveMs, extrapolatedMs: (naiveMs * OLD) / SAMPLE };
  console.error(`run ${run}: naive ${SAMPLE} in ${(naiveMs / 1000).toFixed(1)} s -> ${((naiveMs * OLD) / SAMPLE / 1000).toFixed(0)} s for ${OLD}`);
  out.loadAfter = loadavg().map((l) => l.toFixed(2)).join(" ");
  return out;
}

function report(results) {
  for (const [i, r] of results.entries()) {
    console.log(
      [
        `run ${i} (load average ${r.load} -> ${r.loadAfter})`,
        `  ours:  ${(r.ours.ms / 1000).toFixed(1)} s for ${OLD} of ${RECORDS} records; peak RSS ${r.ours.maxRssMiB.toFixed(0)} MiB; its CPU: user ${(r.ours.cpuMs.user / 1000).toFixed(1)} s, system ${(r.ours.cpuMs.system / 1000).toFixed(1)} s`,
        `    ${formatCpu(r.oursCpu)}`,
        `  floor: ${(r.floor.ms / 1000).toFixed(1)} s (COPY ${(r.floor.copyMs / 1000).toFixed(1)} s + pipelined UNLINK ${(r.floor.unlinkMs / 1000).toFixed(1)} s) -> ours / floor = ${(r.ours.ms / r.floor.ms).toFixed(2)}x`,
        `    ${formatCpu(r.floorCpu)}`,
        `  naive: ${(r.naive.sampleMs / 1000).toFixed(1)} s for ${SAMPLE} -> ${(r.naive.extrapolatedMs / 1000).toFixed(0)} s extrapolated -> naive / ours = ${(r.naive.extrapolatedMs / r.ours.ms).toFixed(1)}x`,
        `  PING from a separate client during our pass: max ${r.ping.max.toFixed(1)} ms, p99 ${r.ping.p99.toFixed(2)} ms, p50 ${r.ping.p50.toFixed(2)} ms (${r.ping.count} pings); Redis LATENCY LATEST max ${r.serverMaxMs} ms`,
        `    busiest commands in Redis during our pass: ${r.commands.stats.map((c) => `${c.name} ${c.calls} calls, ${c.per.toFixed(1)} µs/call`).join("; ")}; ${r.commands.slow} calls of 10 ms or more`,
        `  PING during the floor: max ${r.floorPing.max.toFixed(1)} ms, p99 ${r.floorPing.p99.toFixed(2)} ms; Redis LATENCY LATEST max ${r.floorServerMaxMs} ms`,
        `  PING against an idle Redis for 5 s (this machine's own jitter): max ${r.idlePing.max.toFixed(1)} ms, p99 ${r.idlePing.p99.toFixed(2)} ms`,
      ].join("\n"),
    );
  }
}

// fn's figures with the PING client running and Redis's own view (scripts/bench/latency.mjs).
function withPinger(fn) {
  return withRedisLatency(redis, port, fn);
}

// Waits (up to a minute) until no autovacuum worker is running, so one step's aftermath does not run during the next.
async function autovacuumDone() {
  for (let i = 0; i < 600; i++) {
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'");
    if (rows[0].n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function execFileAsync(file, args, options) {
  return promisify(execFile)(file, args, options);
}
