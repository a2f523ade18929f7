import { UsageError } from "@reclaim/core";
import { afterAll, describe, expect, it } from "vitest";
import { assetOptions, contentOf, createAssets, expectedRow, HOSTS, testPool, uniqueSchema } from "./_test_fixture.ts";
import { backfillCdnUrls } from "./backfill.ts";
import { verifyCdnUrls } from "./verify.ts";

const pool = testPool();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

async function fixture(prefix: string, rows: number): Promise<string> {
  const schema = uniqueSchema(prefix);
  schemas.push(schema);
  await createAssets(pool, schema, rows);
  return schema;
}

function expectClean(content: Awaited<ReturnType<typeof contentOf>>): void {
  for (const row of content) {
    const expected = expectedRow(Number(row.id));
    expect(row.url).toBe(expected.url);
    expect(row.name).toBe(expected.url);
    expect(JSON.parse(row.meta)).toEqual(JSON.parse(expected.meta));
    expect(row.doc).toBe(expected.doc);
  }
}

describe("backfillCdnUrls()", () => {
  it("strips the hosts from text, varchar, json and jsonb columns at any depth, leaving every other value as it was", async () => {
    const schema = await fixture("all", 2_000);
    const report = await backfillCdnUrls(pool, assetOptions(schema, { initialBatchSize: 50, maxBatchSize: 300 }));
    expect(report.columns.map((column) => column.column)).toEqual(["url", "name", "meta", "doc"].map((c) => `${schema}.assets.${c}`));
    expect(report.columns[0]).toMatchObject({ scanned: 2_000, rewritten: 1_400 });
    expect(report.columns[0]!.batches).toBeGreaterThan(6);
    expect(report.columns[2]!.values).toBeGreaterThan(report.columns[2]!.rewritten);
    expectClean(await contentOf(pool, schema));
    const verify = await verifyCdnUrls(pool, assetOptions(schema));
    expect(verify.map((column) => column.rows)).toEqual([0, 0, 0, 0]);
  });

  it("changes nothing when it runs a second time", async () => {
    const schema = await fixture("twice", 500);
    await backfillCdnUrls(pool, assetOptions(schema));
    const after = await contentOf(pool, schema);
    const xmins = (await pool.query(`SELECT xmin::text FROM "${schema}".assets ORDER BY id`)).rows;
    const second = await backfillCdnUrls(pool, assetOptions(schema));
    expect(second.columns.map((column) => column.rewritten)).toEqual([0, 0, 0, 0]);
    expect(second.columns.map((column) => column.scanned)).toEqual([500, 500, 500, 500]);
    expect(await contentOf(pool, schema)).toEqual(after);
    expect((await pool.query(`SELECT xmin::text FROM "${schema}".assets ORDER BY id`)).rows).toEqual(xmins);
  });

  it("walks a table keyed by uuid or text as well as by integer", async () => {
    const schema = uniqueSchema("uuid");
    schemas.push(schema);
    await pool.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".files (uid uuid PRIMARY KEY, code text NOT NULL UNIQUE, url varchar)`);
    await pool.query(`INSERT INTO "${schema}".files SELECT gen_random_uuid(), 'c' || i, 'https://cdn.example.ai/f/' || i FROM generate_series(1, 300) i`);
    await backfillCdnUrls(pool, { hosts: HOSTS, columns: [{ table: `${schema}.files`, column: "url", key: "uid" }], initialBatchSize: 17, progressTable: `${schema}.p` });
    await pool.query(`UPDATE "${schema}".files SET url = 'https://cdn.example.ai/again'`);
    const report = await backfillCdnUrls(pool, { hosts: HOSTS, columns: [{ table: `${schema}.files`, column: "url", key: "code" }], initialBatchSize: 17, progressTable: `${schema}.p` });
    expect(report.columns[0]).toMatchObject({ scanned: 300, rewritten: 300 });
    expect((await pool.query(`SELECT DISTINCT url FROM "${schema}".files`)).rows).toEqual([{ url: "/again" }]);
  });

  it("refuses a missing table, a missing column, a column of another type or a key that is not unique before writing anything", async () => {
    const schema = await fixture("bad", 50);
    const before = await contentOf(pool, schema);
    const attempt = (columns: unknown[]) =>
      backfillCdnUrls(pool, { hosts: HOSTS, columns: [{ table: `${schema}.assets`, column: "url" }, ...columns], progressTable: `${schema}.progress` });
    await expect(attempt([{ table: `${schema}.nope`, column: "url" }])).rejects.toThrow(new UsageError(`cdn-urls: table "${schema}.nope" does not exist`));
    await expect(attempt([{ table: `${schema}.assets`, column: "nope" }])).rejects.toThrow(`column "nope" does not exist in table "${schema}.assets"`);
    await expect(attempt([{ table: `${schema}.assets`, column: "n" }])).rejects.toThrow(`column ${schema}.assets.n is integer: only text, varchar, json and jsonb columns can be cleaned`);
    await expect(attempt([{ table: `${schema}.assets`, column: "url", key: "dup" }])).rejects.toThrow(`key ${schema}.assets.dup is not unique and not null`);
    await expect(attempt([{ table: `${schema}.assets`, column: "url", key: "missing" }])).rejects.toThrow(`key column "missing" does not exist`);
    await expect(attempt([{ table: `${schema}.assets; DROP TABLE x`, column: "url" }])).rejects.toBeInstanceOf(UsageError);
    expect(await contentOf(pool, schema)).toEqual(before);
    expect((await pool.query(`SELECT to_regclass($1) AS t`, [`"${schema}".progress`])).rows[0].t).toBeNull();
  });

  it("quotes identifiers, so a table and column with quotes, spaces and upper case work", async () => {
    const schema = uniqueSchema("quoted");
    schemas.push(schema);
    const table = 'My "Assets" Table';
    await pool.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}"."My ""Assets"" Table" ("Id" int PRIMARY KEY, "Url; x" text)`);
    await pool.query(`INSERT INTO "${schema}"."My ""Assets"" Table" VALUES (1, 'https://cdn.example.ai/a.png'), (2, 'https://other.example/a.png')`);
    await backfillCdnUrls(pool, { hosts: HOSTS, columns: [{ table: `${schema}.${table}`, column: "Url; x", key: "Id" }], progressTable: `${schema}.progress` });
    expect((await pool.query(`SELECT "Url; x" AS url FROM "${schema}"."My ""Assets"" Table" ORDER BY "Id"`)).rows).toEqual([{ url: "/a.png" }, { url: "https://other.example/a.png" }]);
  });

  it("in a dry run counts per column and samples before → after, and writes nothing", async () => {
    const schema = await fixture("dry", 300);
    const before = await contentOf(pool, schema);
    const report = await backfillCdnUrls(pool, assetOptions(schema), { dryRun: true, sample: 3 });
    expect(report.dryRun).toBe(true);
    expect(report.columns.map((column) => column.rewritten)).toEqual([210, 210, 300, 300]);
    expect(report.columns[0]!.samples).toHaveLength(3);
    expect(report.columns[0]!.samples[0]).toEqual({ key: "1", before: "//CDN-DEV.example.ai/generations/1/a%20b.png?w=64#top", after: "/generations/1/a%20b.png?w=64#top" });
    expect(await contentOf(pool, schema)).toEqual(before);
    expect((await pool.query(`SELECT to_regclass($1) AS t`, [`"${schema}".progress`])).rows[0].t).toBeNull();
  });

  it("shrinks the batch and retries after a lock timeout instead of failing", async () => {
    const schema = await fixture("lock", 400);
    const holder = await pool.connect();
    await holder.query(`BEGIN; SELECT * FROM "${schema}".assets WHERE id = 123 FOR UPDATE`);
    let released = false;
    const report = await backfillCdnUrls(pool, assetOptions(schema, { lockTimeout: 20, initialBatchSize: 200 }), {
      onRetry: () => {
        if (released) return;
        released = true;
        void holder.query("COMMIT").then(() => holder.release());
      },
    });
    expect(released).toBe(true);
    expect(report.columns[0]!.retries).toBeGreaterThan(0);
    expectClean(await contentOf(pool, schema));
  });

  it("shrinks the batch and retries after a statement timeout instead of failing", async () => {
    const schema = await fixture("slow", 400);
    // Every rewritten row costs 5 ms inside Postgres: 200 rows (~140 rewritten) outlast the 300 ms statement_timeout,
    // 50 rows do not.
    await pool.query(`
      CREATE FUNCTION "${schema}".slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN NEW; END $$;
      CREATE TRIGGER slow BEFORE UPDATE ON "${schema}".assets FOR EACH ROW EXECUTE FUNCTION "${schema}".slow()`);
    const errors: string[] = [];
    const report = await backfillCdnUrls(pool, assetOptions(schema, { statementTimeout: 300, initialBatchSize: 200, batchTarget: 100 }), {
      onRetry: (err) => errors.push((err as Error & { code?: string }).code ?? err.message),
    });
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors)).toEqual(new Set(["57014"])); // canceling statement due to statement timeout
    expect(report.columns[0]!.retries).toBe(errors.length);
    expectClean(await contentOf(pool, schema));
  });

  it("pauses between batches for `pause`", async () => {
    const schema = await fixture("pause", 300);
    const ends: number[] = [];
    let done = 0;
    const report = await backfillCdnUrls(pool, assetOptions(schema, { pause: "40ms", initialBatchSize: 50, maxBatchSize: 50 }), {
      onProgress: (progress) => {
        // called when the table's sweep starts (done 0), then after each batch
        if (progress.done === done) return;
        done = progress.done;
        ends.push(performance.now());
      },
    });
    expect(report.columns[0]!.batches).toBeGreaterThanOrEqual(6);
    // onProgress runs after each batch commits; the next batch starts only after the pause: a lower bound, never flaky.
    const gaps = ends.slice(1).map((end, i) => end - ends[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(5);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(39);
    expectClean(await contentOf(pool, schema));
  });

  it("waits while the replica lag is above maxReplicaLag", async () => {
    const schema = await fixture("lag", 100);
    const lags = [900, 900, 900];
    const report = await backfillCdnUrls(pool, assetOptions(schema, { maxReplicaLag: 500, replicaLagCheck: 1 }), { replicaLag: async () => lags.shift() ?? 0 });
    expect(report.columns[0]!.replicaWaits).toBe(3);
    expectClean(await contentOf(pool, schema));
  });
});
