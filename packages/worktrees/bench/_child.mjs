// One measured operation in a fresh process: `clean REPO` (a whole pass) or `size DIR` (the report's size walk).
// Prints one JSON line: times measured inside the process (no Node start-up) and this process's peak RSS.
import { dirname, basename } from "node:path";
import { cleanWorktrees } from "../dist/clean_worktrees.js";
import { TreePool } from "../dist/_tree_pool.js";
import { measureFolders } from "../dist/_walk.js";
import { nativeClearTree } from "../dist/_tree_tasks.js";

const [op, target, threads] = process.argv.slice(2);
const started = performance.now();
const cpuStart = process.cpuUsage();
/** CPU time (user + system, every thread of this process) since `started`, in ms. */
const cpuMs = () => {
  const used = process.cpuUsage(cpuStart);
  return Math.round((used.user + used.system) / 1000);
};
if (op === "clean") {
  let outAt = null;
  const report = await cleanWorktrees({
    repos: [target],
    days: 30,
    artifacts: ["node_modules", ".next", "dist", ".turbo", "target"],
    keep: [],
    cwd: "/",
    ...(threads ? { threads: Number(threads) } : {}),
    onProgress(p) {
      if (p.phase === "delete" && outAt === null) outAt = performance.now();
    },
  });
  const totalMs = performance.now() - started;
  console.log(JSON.stringify({
    totalMs: Math.round(totalMs),
    cpuMs: cpuMs(),
    untilOutMs: Math.round((outAt ?? performance.now()) - started),
    renameMs: report.outOfWorktreeMs,
    removedBytes: report.removedBytes,
    freedBytes: report.freedBytes,
    removed: report.removed,
    errors: report.errors.length,
    nativeDelete: nativeClearTree !== null,
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }));
} else if (op === "size") {
  const pool = new TreePool(threads ? Number(threads) : undefined);
  const [folder] = await measureFolders(pool, dirname(target), [basename(target)]);
  await pool.close();
  console.log(JSON.stringify({ ms: Math.round(performance.now() - started), cpuMs: cpuMs(), size: folder.size, files: folder.files, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}
