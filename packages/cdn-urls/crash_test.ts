import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { forkTs } from "@reclaim/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { assetOptions, contentOf, createAssets, expectedRow, testPool, uniqueSchema } from "./_test_fixture.ts";
import { backfillCdnUrls } from "./backfill.ts";

const pool = testPool();
const schema = uniqueSchema("crash");
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

async function scannedSoFar(): Promise<number> {
  try {
    const { rows } = await pool.query(`SELECT COALESCE(sum(scanned), 0)::int AS n, bool_and(done) AS done FROM "${schema}".progress`);
    return rows[0].done ? Number.POSITIVE_INFINITY : rows[0].n;
  } catch {
    return 0;
  }
}

describe("backfillCdnUrls() killed with SIGKILL", () => {
  it("finishes with the same content as an uninterrupted run after kills at random moments, and a further run changes nothing", async () => {
    const rows = 1_500;
    await createAssets(pool, schema, rows);
    const options = assetOptions(schema, { initialBatchSize: 30, maxBatchSize: 60, pause: 2 });
    // the resumed run may use other batch sizes: progress is a key, not a batch number
    const resume = assetOptions(schema, { initialBatchSize: 500, maxBatchSize: 5_000 });
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const startedAt = await scannedSoFar();
      if (startedAt === Number.POSITIVE_INFINITY) break;
      const child = forkTs(new URL("./_test_backfill_child.ts", import.meta.url), [JSON.stringify(options)], { stdio: "inherit" });
      const exited = once(child, "exit");
      // wait for at least one more committed batch, then a random moment within the next few batches
      while ((await scannedSoFar()) <= startedAt && child.exitCode === null) await sleep(5);
      await sleep(Math.floor(Math.random() * 40));
      if (child.exitCode === null && child.kill("SIGKILL")) kills++;
      await exited;
    }
    expect(kills).toBeGreaterThan(1);
    const { rows: saved } = await pool.query(`SELECT bool_and(done) AS done FROM "${schema}".progress`);
    expect(saved[0].done).toBe(false);

    const resumed = await backfillCdnUrls(pool, resume);
    expect(resumed.columns.some((column) => column.resumed)).toBe(true);
    expect(resumed.columns.reduce((sum, column) => sum + column.scanned, 0)).toBeLessThan(4 * rows);
    const content = await contentOf(pool, schema);
    expect(content).toHaveLength(rows);
    for (const row of content) {
      const expected = expectedRow(Number(row.id));
      expect(row.url).toBe(expected.url);
      expect(row.name).toBe(expected.url);
      expect(JSON.parse(row.meta)).toEqual(JSON.parse(expected.meta));
      expect(row.doc).toBe(expected.doc);
    }
    // totals over the killed runs and the resumed one count each row once: 70 % of the url column
    expect(resumed.columns[0]!.rewrittenTotal).toBe(rows * 0.7);

    const again = await backfillCdnUrls(pool, resume);
    expect(again.columns.map((column) => column.rewritten)).toEqual([0, 0, 0, 0]);
    expect(await contentOf(pool, schema)).toEqual(content);
  }, 240_000);
});
