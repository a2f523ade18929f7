// Where the CPU went during a benchmark step: busy share of each core (/proc/stat) and CPU seconds by process name
// (/proc/PID/stat of every process, grouped by command name: postgres, redis-server, node, psql, ...). A process that
// starts and ends inside the step counts under its parent's name once reaped (a Postgres backend under postgres, a
// benchmark's child under node).
import { readdirSync, readFileSync } from "node:fs";

const TICK = 100; // USER_HZ

/** A Postgres process's role from the title it sets: a backend, checkpointer, walwriter, autovacuum worker, ... */
function postgresRole(pid) {
  const title = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
  if (!title.startsWith("postgres: ")) return "postmaster+ended"; // the postmaster: with its reaped backends' time
  const role = title.slice("postgres: ".length);
  return /^\S+ \S+ [\d.:[\]]+\(\d+\)/.test(role) ? "backend" : role.trim();
}

/** A snapshot to pass to {@link cpuSince}. */
export function cpuSnapshot() {
  const cores = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .filter((line) => /^cpu\d/.test(line))
    .map((line) => {
      const f = line.split(/\s+/).slice(1).map(Number);
      const idle = f[3] + f[4];
      return { idle, total: f.reduce((a, b) => a + b, 0) };
    });
  const processes = new Map();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      let name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      // Postgres' processes by role (checkpointer, walwriter, autovacuum, a backend), from the title it sets
      if (name === "postgres") name = `postgres ${postgresRole(pid)}`;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      processes.set(pid, { name, ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) }); // own + reaped children's
    } catch {
      // gone
    }
  }
  return { cores, processes };
}

/** Since `before`: each core's busy percentage, and CPU seconds by process name (largest first). */
export function cpuSince(before) {
  const after = cpuSnapshot();
  const coresBusy = after.cores.map((c, i) => {
    const total = c.total - before.cores[i].total;
    return total > 0 ? Math.round((100 * (total - (c.idle - before.cores[i].idle))) / total) : 0;
  });
  const byName = new Map();
  for (const [pid, p] of after.processes) {
    const ticks = p.ticks - (before.processes.get(pid)?.name === p.name ? before.processes.get(pid).ticks : 0);
    if (ticks > 0) byName.set(p.name, (byName.get(p.name) ?? 0) + ticks / TICK);
  }
  return { coresBusy, seconds: Object.fromEntries([...byName].sort((a, b) => b[1] - a[1])) };
}

/** One line: `cores busy 93% 71%; CPU s: postgres 4.1, node 3.2, redis-server 1.9`. */
export function formatCpu({ coresBusy, seconds }) {
  const top = Object.entries(seconds).filter(([, s]) => s >= 0.05).slice(0, 7);
  return `cores busy ${coresBusy.map((b) => `${b}%`).join(" ")}; CPU s: ${top.map(([n, s]) => `${n} ${s.toFixed(1)}`).join(", ")}`;
}
