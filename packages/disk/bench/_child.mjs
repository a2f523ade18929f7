// One measured operation in a fresh process, so that its peak memory is its own:
//   node _child.mjs sweep|audit|pressure DIR [threads]
// Prints {"ms":..., "maxRssMiB":..., ...} on stdout. Uses the built package (npx tsc -b packages/disk).
import { createRunner } from "@reclaim/core";
import { auditDir, createDiskHook } from "../dist/mod.js";

const [op, dir, threadsArg] = process.argv.slice(2);
const threads = threadsArg === undefined ? undefined : Number(threadsArg);
const started = performance.now();
const cpuStart = process.cpuUsage();
let detail;
if (op === "audit") {
  const result = await auditDir(dir, threads === undefined ? {} : { threads });
  detail = { files: result.files, bytes: result.totalBytes };
} else {
  const options = op === "sweep"
    ? { root: dir, remote: { enabled: true }, pressure: { enabled: false } }
    : { root: dir, remote: { enabled: false }, references: { stores: [] }, pressure: { high: Number(process.env.BENCH_HIGH ?? 0.01), low: Number(process.env.BENCH_LOW ?? 0.005), minAge: "7d" } };
  if (threads !== undefined) options.threads = threads;
  const result = await createRunner(createDiskHook(options), { enabled: true }).runOnce();
  if (result.outcome !== "success") throw new Error(result.error);
  detail = { removed: result.report.removed, age: result.report.age.removed, pressure: result.report.pressure.triggered ? { removed: result.report.pressure.removed, rounds: result.report.pressure.rounds, reason: result.report.pressure.reason } : null };
}
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpuStart);
console.log(JSON.stringify({ op, ms: Math.round(ms), cpuMs: Math.round((cpu.user + cpu.system) / 1000), maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), ...detail }));
