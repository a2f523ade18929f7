// One backfill run in its own process (for its peak RSS): prints {ms, report, maxRssMiB} as JSON on stdout.
import pg from "pg";
import { backfillCdnUrls } from "../dist/mod.js";

const pool = new pg.Pool({ connectionString: process.argv[2], max: 2 });
const started = performance.now();
const report = await backfillCdnUrls(pool, JSON.parse(process.argv[3]), { job: "bench" });
const ms = performance.now() - started;
await pool.end();
process.stdout.write(JSON.stringify({ ms, report: report.columns.map((c) => ({ column: c.column, rewritten: c.rewritten, batches: c.batches, retries: c.retries })), maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + "\n");
