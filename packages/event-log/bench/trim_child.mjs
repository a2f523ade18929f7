// One trim in a fresh process: `node trim_child.mjs FILE KEEP_LINES MAX_BYTES`. Prints one JSON line: the trim's
// total time (ms), the time until the new file was in place and appenders resumed (swapMs), the process's peak
// RSS (bytes) and the outcome. Uses the compiled trimmer (run `npx tsc -b packages/event-log` first).
import { trimLog } from "../dist/_trim.js";

const [file, keepLines, maxBytes] = process.argv.slice(2);
const settings = { maxBytes: Number(maxBytes), keepLines: Number(keepLines), archiveKeep: null, dryRun: false, drainTimeout: 10_000, signal: undefined };
const started = process.hrtime.bigint();
const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
let swapMs = Number.NaN;
const result = await trimLog(file, settings, (phase) => {
  if (phase === "resumed") swapMs = elapsed();
});
const ms = elapsed();
process.stdout.write(`${JSON.stringify({ ms, swapMs, maxRss: process.resourceUsage().maxRSS * 1024, outcome: result.outcome })}\n`);
