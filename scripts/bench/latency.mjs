// Latency measured where the machine is shared. On a 2-core VM a PING client that the scheduler preempts reports its
// own waits (10-13 ms seen beside redis-cli, whose commands Redis runs in microseconds), not Redis's. With ISOLATE
// (the default where `chrt` and `taskset` work and there are 2+ cores), the server and the PING client share core 0
// at real-time priority, and every contender (ours, the baseline, their children) runs on core 1: what the PING
// client then sees is how long Redis was busy with the contender's commands, as with Redis on its own host.
// ISOLATE=0 runs everything where the scheduler puts it. ISOLATE=server keeps the server and the PING client on core 0
// at real-time priority but lets the contenders run on both cores: the scheduler gives them core 0 whenever the
// real-time pair is idle and takes it back the moment Redis has work (a tool that can use two cores is measured on
// two, and Redis is still never kept waiting by a contender).
import { execFileSync, fork } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";

const works = (cmd, args) => {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/** Whether the server and the PING client are isolated from the contenders (see above). */
export const ISOLATE = process.env.ISOLATE !== "0" && cpus().length >= 2 && works("chrt", ["-f", "1", "true"]) && works("taskset", ["-c", "0", "true"]);

/**
 * Real-time throttling off while isolated (restored at exit). By default the kernel stops every real-time task of a
 * core for the rest of a second once they have run 950 ms of it: a Redis kept busy by a contender would then stall
 * for up to 50 ms with its PING client — a stall of the isolation, not of Redis (seen: PINGs of 142 and 243 ms while
 * Redis's own latency monitor said 15 ms at most). Answers whether throttling is off.
 */
function liftRealTimeThrottling() {
  const file = "/proc/sys/kernel/sched_rt_runtime_us";
  try {
    const before = readFileSync(file, "utf8").trim();
    if (before === "-1") return true;
    writeFileSync(file, "-1");
    const restore = () => writeFileSync(file, before);
    process.once("exit", restore);
    for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
    return true;
  } catch {
    return false;
  }
}

const UNTHROTTLED = ISOLATE && liftRealTimeThrottling();

/** Whether the contenders are kept off the server's core (ISOLATE=server lets them use both cores). */
const PIN_CONTENDERS = ISOLATE && process.env.ISOLATE !== "server";

/** One line for the benchmark's header. */
export const isolation = (!ISOLATE
  ? "not isolated: server, PING client and contenders share the cores (ISOLATE=0 or no chrt/taskset)"
  : PIN_CONTENDERS
    ? "isolated: server and PING client on core 0 at real-time priority (chrt -f), contenders on core 1 (ISOLATE=server: contenders on both cores; ISOLATE=0: off)"
    : "server isolated: server and PING client on core 0 at real-time priority (chrt -f), contenders on both cores below them (ISOLATE=1: contenders on core 1)") +
  (ISOLATE ? (UNTHROTTLED ? "; real-time throttling off for the run" : "; real-time throttling ON (could not lift it: stalls of up to 50 ms are the kernel's)") : "");

/** `[command, args]` that starts a server on the measured core, at real-time priority when isolated. */
export function serverCommand(command, args) {
  return ISOLATE ? ["chrt", ["-f", "50", "taskset", "-c", "0", command, ...args]] : [command, args];
}

/** `[command, args]` that runs a shell script (a baseline pipeline) on the contenders' core. */
export function contenderShell(script) {
  return PIN_CONTENDERS ? ["taskset", ["-c", "1", "sh", "-c", script]] : ["sh", ["-c", script]];
}

/** Moves a running process (every thread) to the contenders' core. */
export function toContenderCore(pid) {
  if (PIN_CONTENDERS) execFileSync("taskset", ["-a", "-p", "-c", "1", String(pid)], { stdio: "ignore" });
}

/**
 * Starts the PING client (`pinger.mjs`: a PING every millisecond on its own connection) on the measured core at a
 * real-time priority above the server's. `stop()` answers {count, p50, p99, p999, max} in ms and `over10`, the PINGs that waited 10 ms or more.
 */
export async function startPinger(port, host = "127.0.0.1") {
  const proc = fork(new URL("./pinger.mjs", import.meta.url).pathname, [String(port), host], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  let out = "";
  proc.stdout.on("data", (c) => (out += c));
  if (ISOLATE) {
    execFileSync("taskset", ["-a", "-p", "-c", "0", String(proc.pid)], { stdio: "ignore" });
    execFileSync("chrt", ["-a", "-f", "-p", "60", String(proc.pid)], { stdio: "ignore" });
  }
  await new Promise((resolve) => proc.once("message", resolve));
  return {
    stop: () =>
      new Promise((resolve) => {
        proc.on("close", () => resolve(JSON.parse(out))); // after its stdout is read to the end
        proc.kill("SIGTERM");
      }),
  };
}

/**
 * Moves the server's background threads (jemalloc's purger, the lazy-free, AOF and close-file threads) off the
 * measured core, at ordinary priority. They inherit the server's real-time priority and core; at the same FIFO
 * priority on the same core, jemalloc returning freed memory to the kernel keeps the main thread off the CPU until it
 * is done (seen: PINGs of 200 ms after a pass freed 500 MB, with Redis's own latency monitor at 4 ms). On a host of its
 * own these threads run on other cores; so they do here.
 */
async function releaseBackgroundThreads(redis) {
  if (!ISOLATE) return;
  const pid = /process_id:(\d+)/.exec(await redis.info("server"))?.[1];
  if (!pid) return;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (tid === pid) continue;
    execFileSync("chrt", ["-o", "-p", "0", tid], { stdio: "ignore" });
    execFileSync("taskset", ["-p", "-c", "1", tid], { stdio: "ignore" });
  }
}

/**
 * Runs `fn` while the PING client runs against the Redis on `port`, with Redis's own view reset before and read after:
 * its latency monitor (any event of 1 ms or more inside the server), SLOWLOG (calls of 10 ms or more) and the three
 * busiest commands (INFO commandstats). `redis` is an admin client (ioredis) of that server. Answers {result, ping,
 * serverMaxMs, commands: {stats, slow}}.
 */
export async function withRedisLatency(redis, port, fn) {
  await releaseBackgroundThreads(redis);
  await redis.call("CONFIG", "SET", "latency-monitor-threshold", "1");
  await redis.call("CONFIG", "SET", "slowlog-log-slower-than", "10000");
  await redis.call("LATENCY", "RESET");
  await redis.call("SLOWLOG", "RESET");
  await redis.call("CONFIG", "RESETSTAT");
  const pinger = await startPinger(port);
  const result = await fn();
  const ping = await pinger.stop();
  const events = await redis.call("LATENCY", "LATEST");
  if (process.env.VERBOSE) console.error("  latency events:", JSON.stringify(events));
  const serverMaxMs = events.reduce((max, e) => Math.max(max, Number(e[3])), 0);
  const info = await redis.info("commandstats");
  const stats = [...info.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/gm)]
    .map(([, name, calls, usec, per]) => ({ name, calls: Number(calls), usec: Number(usec), per: Number(per) }))
    .filter((c) => !["info", "config", "latency", "slowlog", "ping", "client", "hello", "command", "script"].includes(c.name))
    .sort((a, b) => b.usec - a.usec)
    .slice(0, 3);
  return { result, ping, serverMaxMs, commands: { stats, slow: Number(await redis.call("SLOWLOG", "LEN")) } };
}
