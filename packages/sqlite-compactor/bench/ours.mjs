// Benchmark child: one pass of the compactor (built dist) over argv[2]; prints a JSON line with the report,
// the pass duration and this process's peak RSS.
import { createLogger, createRunner } from "@reclaim/core";
import { Registry } from "prom-client";
import { installTrace, traced } from "./_trace.mjs";

if (process.env.TRACE) installTrace();
// DIST: another build of the package (an A/B of two versions in one session), default ../dist.
const { createSqliteCompactorHook } = await import(process.env.DIST ?? "../dist/mod.js");

const [path, cutoffMs] = process.argv.slice(2);
const registry = new Registry();
const hook = createSqliteCompactorHook({
  path,
  registry,
  tables: [{ table: "jobs", terminal: ["done", "failed"], maxAge: Number(cutoffMs), maxRows: null, timeFormat: "unix-ms" }],
});
const started = performance.now();
const logger = process.env.VERBOSE ? createLogger({ destination: 2 }) : undefined;
const result = await createRunner(hook, { enabled: true, ...(logger && { logger }) }).runOnce();
const ms = performance.now() - started;
if (process.env.VERBOSE) console.error(await registry.getSingleMetricAsString("reclaim_sqlite_write_transaction_seconds"));
console.log(JSON.stringify({ ms, outcome: result.outcome, error: result.error, report: result.report, maxRssKiB: process.resourceUsage().maxRSS, ...(process.env.TRACE && { traced }) }));
