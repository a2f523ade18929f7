// Benchmark: give every heartbeat a TTL in a Redis of 1,000,000 keys (half of them `worker:heartbeat:<n>` without
// a TTL, half `job:<n>:result` left alone), in the same run and on the same data:
//
//   ours      one pass of the redis-ttl hook (policy worker:heartbeat:* 5m, missing), defaults (SCAN COUNT 1000,
//             2 ms pause between batches), budget large enough for one pass
//   ours-np   the same with pause 0
//   ours-250  scanCount 250 (ONLY=ours-250,... to run it)
//   one-liner redis-cli --scan --pattern 'worker:heartbeat:*' | awk '{print "EXPIRE", $1, 300, "NX"}' | redis-cli --pipe
//   naive     SCAN + one awaited `redis.expire(key, 300, "NX")` per key
//   idle      nothing for 5 s: the PING floor of this machine (what the PING client sees with Redis idle)
//
// While each runs, a separate process sends PING back to back on its own connection: its p99 and max latency are
// reported. By default the server and that client have core 0 at real-time priority and the contenders core 1
// (scripts/bench/latency.mjs; ISOLATE=0 to turn off), so the PING figures say how long Redis was busy, not how
// long the PING client waited for a CPU. Peak RSS is the contender process's own (ours and naive run in a child process). Rounds alternate the
// order. The keyspace is rebuilt before every run (FLUSHALL + redis-cli --pipe) on a private redis-server on a free
// port. Never run by CI.
//
//   pnpm build (or npx tsc -b packages/redis-ttl) && node packages/redis-ttl/bench/ttl_bench.mjs
//   env: KEYS=1000000 ROUNDS=3 NAIVE_ROUNDS=1 ONLY=ours,ours-np,one-liner,naive AUDIT=1 VERBOSE= ISOLATE=1
import { execFileSync, fork, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { contenderShell, isolation, serverCommand, toContenderCore, withRedisLatency } from "../../../scripts/bench/latency.mjs";
import { auditRedis, formatRedisAudit } from "../dist/mod.js";

const KEYS = Number(process.env.KEYS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
// The naive loop takes minutes at 1,000,000 keys: it runs in the first NAIVE_ROUNDS rounds only.
const NAIVE_ROUNDS = Number(process.env.NAIVE_ROUNDS ?? 1);
const here = new URL(".", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "reclaim-ttl-bench-"));

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const server = spawn(...serverCommand("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]), { stdio: "ignore" });
process.on("exit", () => server.kill("SIGKILL"));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));
const redis = new Redis(port, "127.0.0.1", { retryStrategy: (n) => (n > 50 ? null : 100) }).on("error", () => undefined);
await redis.ping();

// The keyspace as Redis protocol, written once, loaded with redis-cli --pipe before each run.
const protocol = join(dir, "keys.resp");
{
  const cmd = (...args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
  const chunks = [];
  for (let i = 0; i < KEYS; i++) chunks.push(i % 2 === 0 ? cmd("SET", `worker:heartbeat:${i}`, String(Date.now())) : cmd("SET", `job:${i}:result`, "done"));
  writeFileSync(protocol, chunks.join(""));
}

async function reset() {
  await redis.flushall();
  execFileSync("sh", ["-c", `redis-cli -p ${port} --pipe < ${protocol}`], { stdio: "ignore" });
  const size = await redis.dbsize();
  if (size !== KEYS) throw new Error(`expected ${KEYS} keys, found ${size}`);
}

async function check() {
  // Every heartbeat has a TTL, no other key has one (sampled: 2,000 of each).
  for (let i = 0; i < Math.min(KEYS, 4_000); i++) {
    const key = i % 2 === 0 ? `worker:heartbeat:${i}` : `job:${i}:result`;
    const ttl = await redis.pttl(key);
    if ((i % 2 === 0) !== ttl > 0) throw new Error(`${key} has pttl ${ttl}`);
  }
}

function child(script, args) {
  return new Promise((resolve, reject) => {
    const proc = fork(join(here, script), args, { stdio: ["ignore", "pipe", "inherit", "ipc"] });
    toContenderCore(proc.pid);
    let out = "";
    proc.stdout.on("data", (c) => (out += c));
    proc.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${script} exited ${code}`))));
  });
}

// While fn runs: the PING client, and Redis's own view (latency monitor, SLOWLOG, busiest commands), which separates
// Redis being blocked from the machine stopping the PING client.
async function withPinger(fn) {
  const { result, ...figures } = await withRedisLatency(redis, port, fn);
  return { ...result, ...figures };
}

const contenders = {
  // No contender: Redis idle for 5 s while the PING client runs. Its PING max is the floor this machine adds by itself
  // (seen: 8-13 ms on a quiet 2-core VM, 17-21 ms under load, even isolated): compare ours with it.
  idle: async () => {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    return { ms: 5_000 };
  },
  ours: () => child("_contender.mjs", ["ours", String(port), "2ms"]),
  "ours-np": () => child("_contender.mjs", ["ours", String(port), "0"]),
  // Smaller batches: less time inside Redis per call, more calls and pauses (not in the default set).
  "ours-250": () => child("_contender.mjs", ["ours", String(port), "2ms", "250"]),
  "one-liner": async () => {
    const started = performance.now();
    execFileSync(...contenderShell(`redis-cli -p ${port} --scan --pattern 'worker:heartbeat:*' | awk '{print "EXPIRE", $1, 300, "NX"}' | redis-cli -p ${port} --pipe`), { stdio: "ignore" });
    return { ms: performance.now() - started };
  },
  naive: () => child("_contender.mjs", ["naive", String(port)]),
};

const results = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
// ONLY=ours,one-liner runs a subset (the ratios need one-liner in it).
const names = Object.keys(contenders).filter((name) => (process.env.ONLY ? process.env.ONLY.split(",").includes(name) : name !== "ours-250"));
console.log(`keys: ${KEYS} (${KEYS / 2} heartbeats without TTL); rounds: ${ROUNDS}; redis ${(await redis.info("server")).match(/redis_version:(\S+)/)[1]} on 127.0.0.1:${port}`);
console.log(isolation);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (let round = 0; round < ROUNDS; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const name of order) {
    if (name === "naive" && round >= NAIVE_ROUNDS) continue;
    await reset();
    const load = loadavg()[0];
    const result = await withPinger(contenders[name]);
    if (name !== "idle") await check();
    results[name].push({ ...result, load });
    const rss = result.maxRssBytes ? `, peak RSS ${(result.maxRssBytes / 2 ** 20).toFixed(0)} MiB` : "";
    const cmds = result.commands.stats.map((c) => `${c.name} ${c.calls} x ${c.per.toFixed(1)} us`).join(", ");
    console.log(
      `round ${round + 1} ${name.padEnd(9)} ${(result.ms / 1000).toFixed(2)} s; PING p99 ${result.ping.p99.toFixed(2)} ms, p99.9 ${result.ping.p999.toFixed(2)} ms, max ${result.ping.max.toFixed(2)} ms, ${result.ping.over10} of ${result.ping.count} pings >= 10 ms; server-side max ${result.serverMaxMs} ms${rss}; load ${load.toFixed(2)}\n          in Redis: ${cmds}; calls >= 10 ms: ${result.commands.slow}`,
    );
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results["one-liner"].map((r) => r.ms)) ?? Number.NaN;
console.log("\nmedians:");
for (const name of names) {
  const rs = results[name];
  if (rs.length === 0) continue;
  if (name === "idle") {
    console.log(`idle      PING p99 ${median(rs.map((r) => r.ping.p99)).toFixed(2)} ms, max of max ${Math.max(...rs.map((r) => r.ping.max)).toFixed(2)} ms (the floor: Redis idle)`);
    continue;
  }
  const ms = median(rs.map((r) => r.ms));
  const rss = rs[0].maxRssBytes ? `, peak RSS max ${(Math.max(...rs.map((r) => r.maxRssBytes)) / 2 ** 20).toFixed(0)} MiB` : "";
  console.log(
    `${name.padEnd(9)} ${(ms / 1000).toFixed(2)} s  ratio to one-liner ${(ms / base).toFixed(2)}x  PING p99 ${median(rs.map((r) => r.ping.p99)).toFixed(2)} ms, max of max ${Math.max(...rs.map((r) => r.ping.max)).toFixed(2)} ms, server-side max ${Math.max(...rs.map((r) => r.serverMaxMs))} ms${rss}`,
  );
}
const naive = median(results.naive.map((r) => r.ms));
if (results.naive.length > 0) console.log(`ours / naive: ${(median(results.ours.map((r) => r.ms)) / naive).toFixed(2)}x; ours-np / naive: ${(median(results["ours-np"].map((r) => r.ms)) / naive).toFixed(2)}x`);
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

// The audit on the same keyspace, default options (sample of about 100,000 keys), with the pinger running.
if (process.env.AUDIT !== "0") {
  await reset();
  let audit;
  const { ping, serverMaxMs } = await withPinger(async () => {
    audit = await auditRedis(redis, { top: 5 });
    return {};
  });
  console.log(`\nauditRedis() on the same ${KEYS} keys: ${(audit.durationMs / 1000).toFixed(2)} s; PING p99 ${ping.p99.toFixed(2)} ms, max ${ping.max.toFixed(2)} ms; server-side max ${serverMaxMs} ms; load ${loadavg()[0].toFixed(2)}`);
  console.log(formatRedisAudit(audit));
}
redis.disconnect();
server.kill("SIGKILL");
rmSync(dir, { recursive: true, force: true });
