// Benchmark helper (TRACE=1): times every statement the compactor's process runs through better-sqlite3, with its
// wall-clock start (performance.timeOrigin + performance.now(), comparable across processes), so compact.mjs can
// line the writer's stalls up with the compactor's steps.
import Database from "better-sqlite3";

/** Statements run so far: { at, ms, cpu, vcs, ics, sql } (cpu in ms; vcs, ics: voluntary and involuntary context switches). */
export const traced = [];

/** Wraps Statement#run/get/all/iterate and Database#exec to record each call. */
export function installTrace() {
  const probe = new Database(":memory:");
  const Statement = Object.getPrototypeOf(probe.prepare("SELECT 1"));
  probe.close();
  const wrap = (proto, name, sqlOf) => {
    const original = proto[name];
    proto[name] = function (...args) {
      const before = process.resourceUsage();
      const at = performance.timeOrigin + performance.now();
      const value = original.apply(this, args);
      const ms = performance.timeOrigin + performance.now() - at;
      const after = process.resourceUsage();
      // CPU time, and why the thread was off the CPU meanwhile: waits (I/O, locks: voluntary) or preemption (involuntary).
      const cpu = (after.userCPUTime + after.systemCPUTime - before.userCPUTime - before.systemCPUTime) / 1000;
      const entry = { at, ms, cpu, vcs: after.voluntaryContextSwitches - before.voluntaryContextSwitches, ics: after.involuntaryContextSwitches - before.involuntaryContextSwitches, sql: sqlOf(this, args).replace(/\s+/g, " ").slice(0, 70) };
      if (typeof value === "number") entry.value = value;
      traced.push(entry);
      return value;
    };
  };
  for (const name of ["run", "get", "all"]) wrap(Statement, name, (stmt) => stmt.source);
  wrap(Database.prototype, "exec", (_db, [sql]) => String(sql));
}
