// Benchmark: compact a `jobs` table of ROWS rows (3/4 terminal and past maxAge, ~1 KB of JSON each) while another
// process inserts continuously, against the one-shot `DELETE ...; VACUUM` in the sqlite3 shell on a copy of the
// same file. Prints the writer's stalls, file sizes, times, ratios and peak memory.
//
//   npx tsc -b packages/sqlite-compactor
//   ROWS=2000000 AUTO_VACUUM=incremental RUNS=1 node packages/sqlite-compactor/bench/compact.mjs
//
// ROWS (default 2000000), AUTO_VACUUM of the starting file: incremental (steady state) or none (first pass does
// the one-time conversion), RUNS: A/B pairs (medians reported), DIR: working folder (default /tmp/reclaim-sqlite-bench),
// ONLY=ours: skip the baseline, TRACE=1: line the writer's stalls of 50 ms or more up with the compactor's statements (all in DIR/trace.json),
// LOAD=1: one CPU-bound process per core runs beside the benchmark the whole time (the compactor, the writer and
// the baseline compete with them for the CPU, as on a busy host); each in its own session (LOAD=same: in the bench's). CONTROL=SECONDS: first let the writer run alone on
// a copy of the file for that long (with the hogs if LOAD=1): its stalls without any compactor, the floor.
// ISOLATE=1: the writer runs real-time (chrt -f 50: needs root), so it measures the lock, not its own scheduling.
import { execFileSync, fork, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";

const ROWS = Number(process.env.ROWS ?? 2_000_000);
const AUTO_VACUUM = process.env.AUTO_VACUUM ?? "incremental";
const RUNS = Number(process.env.RUNS ?? 1);
const DIR = process.env.DIR ?? "/tmp/reclaim-sqlite-bench";
const DAY = 86_400_000;
const NOW = Date.now();
const CUTOFF_MS = 30 * DAY;
const here = new URL(".", import.meta.url).pathname;

mkdirSync(DIR, { recursive: true });
const template = join(DIR, `template-${ROWS}-${AUTO_VACUUM}.db`);
if (!existsSync(template)) generate(template);

const LOAD = process.env.LOAD === "1" || process.env.LOAD === "same";
const ISOLATE = process.env.ISOLATE === "1";
// LOAD=1: each hog in a session of its own, as another program on the host is (Linux's autogroup then schedules it
// as its own group, as it would a systemd service or a container's cgroup). LOAD=same: in the bench's session, so
// the hogs compete with the compactor task for task inside one group (a busy thread of the service itself).
const hogs = LOAD ? Array.from({ length: availableParallelism() }, () => spawn(process.execPath, ["-e", "for (;;);"], { stdio: "ignore", detached: process.env.LOAD === "1" })) : [];
process.on("exit", () => hogs.forEach((hog) => hog.kill("SIGKILL")));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));
const results = { ours: [], baseline: [] };
try {
  if (process.env.CONTROL) {
    const control = await measure("control", () => new Promise((resolve) => setTimeout(() => resolve({}), Number(process.env.CONTROL) * 1000)));
    console.log(`writer alone for ${process.env.CONTROL} s${LOAD ? ` beside ${hogs.length} CPU hogs` : ""}: stall p50 ${control.p50.toFixed(1)} / p99 ${control.p99.toFixed(1)} / max ${control.max.toFixed(1)} ms, load average ${loadavg()[0].toFixed(1)}`);
  }
  for (let run = 0; run < RUNS; run++) {
    results.ours.push(await measure("ours", runOurs));
    if (process.env.ONLY !== "ours") results.baseline.push(await measure("baseline", runBaseline));
  }
} finally {
  for (const hog of hogs) hog.kill("SIGKILL");
}
if (results.baseline.length > 0) report();
else if (results.ours.length > 1) reportOurs();

function generate(path) {
  const started = performance.now();
  const db = new Database(`${path}.tmp`);
  if (AUTO_VACUUM === "incremental") db.pragma("auto_vacuum = INCREMENTAL");
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at INTEGER NOT NULL, payload TEXT)");
  const insert = db.prepare("INSERT INTO jobs (status, created_at, payload) VALUES (?, ?, ?)");
  const filler = "e".repeat(900);
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      // 3/4: finished 40-100 days ago (removed); 1/8: running for 90 days (kept); 1/8: finished yesterday (kept).
      const old = i % 4 !== 0;
      const status = old ? (i % 7 === 0 ? "failed" : "done") : i % 8 === 0 ? "running" : "done";
      const createdAt = old ? NOW - (40 + (i % 60)) * DAY : i % 8 === 0 ? NOW - 90 * DAY : NOW - DAY;
      insert.run(status, createdAt, JSON.stringify({ id: i, spec: { cmd: "build", args: ["--all"] }, exit: 0, stderr: filler }));
    }
  })();
  db.pragma("journal_mode = WAL");
  db.close();
  execFileSync("mv", [`${path}.tmp`, path]);
  console.error(`generated ${ROWS} rows in ${((performance.now() - started) / 1000).toFixed(1)} s: ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB`);
}

async function measure(name, body) {
  const path = join(DIR, `${name}.db`);
  for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
  execFileSync("cp", ["--reflink=auto", template, path]);
  execFileSync("sync");
  const writer = fork(join(here, "writer.mjs"), [path, "5000", "2"]);
  await once(writer, "message");
  // ISOLATE=1: the writer runs real-time (SCHED_FIFO, all its threads), so its stalls are the time it waits for the
  // lock (and I/O), not for a CPU the hogs and other users hold: it measures, it does not compete.
  if (ISOLATE) execFileSync("chrt", ["-a", "-f", "-p", "50", String(writer.pid)]);
  const started = performance.now();
  const extra = await body(path);
  // ours: the pass as timed inside its process (Node's start-up excluded); sqlite3: the whole shell command.
  const ms = extra.passMs ?? performance.now() - started;
  // Both listeners before "stop": the writer can exit before a listener added after its message would be.
  const reported = once(writer, "message");
  const exited = once(writer, "exit");
  writer.send("stop");
  const [{ latencies, errors, slow }] = await reported;
  await exited;
  if (extra.traced) {
    correlate(slow, extra.traced);
    writeFileSync(join(DIR, "trace.json"), JSON.stringify({ slow, traced: extra.traced }));
  }
  delete extra.traced;
  const bytes = fileBytes(path);
  const sorted = latencies.sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const result = { name, load: LOAD ? `${hogs.length}${process.env.LOAD === "same" ? " same session" : ""}` : 0, isolated: ISOLATE, loadavg1: +loadavg()[0].toFixed(1), ms, bytes, inserts: latencies.length, errors: errors.length, p50: q(0.5), p99: q(0.99), max: sorted.at(-1), ...extra };
  console.error(JSON.stringify(result));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
  return result;
}

async function runOurs(path) {
  const child = spawnSync(process.execPath, [join(here, "ours.mjs"), path, String(CUTOFF_MS)], { encoding: "utf8", maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(child.stderr);
  if (process.env.VERBOSE) process.stderr.write(child.stderr);
  const out = JSON.parse(child.stdout.trim().split("\n").at(-1));
  if (out.outcome !== "success") throw new Error(out.error);
  return { passMs: out.ms, maxRssKiB: out.maxRssKiB, deleted: out.report.rowsDeleted, vacuum: out.report.vacuum, ...(out.traced && { traced: out.traced }) };
}

async function runBaseline(path) {
  const sql = `PRAGMA busy_timeout = 5000; DELETE FROM jobs WHERE status IN ('done', 'failed') AND created_at < ${NOW - CUTOFF_MS}; VACUUM;`;
  const child = spawnSync("/usr/bin/time", ["-f", "%M", "sqlite3", path, sql], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(child.stderr);
  return { maxRssKiB: Number(child.stderr.trim().split("\n").at(-1)) };
}

// TRACE=1: for each writer stall of 50 ms or more, the compactor's statements that overlapped it; then the
// compactor's slowest statements by kind.
function correlate(slow, traced) {
  for (const stall of slow.filter((s) => s.ms >= 50)) {
    const overlapping = traced.filter((t) => t.at < stall.at + stall.ms && t.at + t.ms > stall.at - 5);
    console.error(`writer stall ${stall.ms.toFixed(0)} ms at +${((stall.at - traced[0].at) / 1000).toFixed(2)} s (writer waits ${stall.waits}, preempted ${stall.preempted}):`);
    for (const t of overlapping) console.error(`   ${(t.at - stall.at).toFixed(0).padStart(6)} ms  ${t.ms.toFixed(1).padStart(7)} ms (cpu ${t.cpu.toFixed(1).padStart(6)} ms, waits ${String(t.vcs).padStart(3)}, preempted ${String(t.ics).padStart(3)})  ${t.sql}`);
  }
  const kinds = new Map();
  for (const t of traced) {
    const kind = t.sql.replace(/\d+/g, "N").slice(0, 40);
    const k = kinds.get(kind) ?? { n: 0, total: 0, max: 0 };
    kinds.set(kind, { n: k.n + 1, total: k.total + t.ms, max: Math.max(k.max, t.ms) });
  }
  for (const [kind, k] of [...kinds].sort((a, b) => b[1].total - a[1].total).slice(0, 15)) {
    console.error(`${String(k.n).padStart(7)} x  total ${(k.total / 1000).toFixed(1).padStart(6)} s  max ${k.max.toFixed(0).padStart(5)} ms  ${kind}`);
  }
}

function fileBytes(path) {
  return [path, `${path}-wal`].reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function report() {
  const m = (side, key) => median(results[side].map((r) => r[key]));
  const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const line = (label, key, fmt) => console.log(`${label.padEnd(26)} ours ${fmt(m("ours", key)).padStart(12)}   sqlite3 ${fmt(m("baseline", key)).padStart(12)}   ratio ${(m("ours", key) / m("baseline", key)).toFixed(2)}`);
  const ms = (v) => `${v.toFixed(1)} ms`;
  console.log(`rows ${ROWS}, auto_vacuum ${AUTO_VACUUM}, runs ${RUNS} (medians)${LOAD ? `, ${hogs.length} CPU hogs beside it` : ""}, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  line("total time", "ms", (v) => `${(v / 1000).toFixed(1)} s`);
  line("file size after", "bytes", mib);
  line("writer stall p50", "p50", ms);
  line("writer stall p99", "p99", ms);
  line("writer stall max", "max", ms);
  line("peak RSS", "maxRssKiB", (v) => `${(v / 1024).toFixed(0)} MiB`);
  console.log(`writer inserts: ours ${m("ours", "inserts")}, sqlite3 ${m("baseline", "inserts")}; writer errors: ours ${m("ours", "errors")}, sqlite3 ${m("baseline", "errors")}`);
}

function reportOurs() {
  const m = (key) => median(results.ours.map((r) => r[key]));
  console.log(`rows ${ROWS}, auto_vacuum ${AUTO_VACUUM}, ours only, runs ${RUNS} (medians)${LOAD ? `, ${hogs.length} CPU hogs beside it` : ""}, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  console.log(`total time ${(m("ms") / 1000).toFixed(1)} s; writer stall p50 ${m("p50").toFixed(1)} / p99 ${m("p99").toFixed(1)} / max ${m("max").toFixed(1)} ms (each run's max: ${results.ours.map((r) => r.max.toFixed(0)).join(", ")} ms); errors ${m("errors")}`);
}
