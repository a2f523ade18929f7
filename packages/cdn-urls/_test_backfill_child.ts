// Runs one backfill in its own process (argv[2]: options as JSON), for tests that SIGKILL it mid-way.
import { testPool } from "./_test_fixture.ts";
import { backfillCdnUrls } from "./backfill.ts";

const pool = testPool();
await backfillCdnUrls(pool, JSON.parse(process.argv[2] ?? "{}"));
await pool.end();
process.send?.("done");
