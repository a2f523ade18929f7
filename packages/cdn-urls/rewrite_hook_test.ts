import { createRunner } from "@reclaim/core";
import { memorySpans, testHookEnvironment } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import { assetOptions, contentOf, createAssets, expectedRow, testPool, uniqueSchema } from "./_test_fixture.ts";
import { cdnUrlsDefinition } from "./definition.ts";
import { createCdnUrlsHook, type CdnUrlsReport } from "./rewrite_hook.ts";

const pool = testPool();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

describe("createCdnUrlsHook()", () => {
  it("walks every row on its first pass, then only rows added or changed since, so an old writer cannot undo the backfill", async () => {
    const schema = uniqueSchema("hook");
    schemas.push(schema);
    await createAssets(pool, schema, 600);
    const registry = new Registry();
    const { tracer, spans } = memorySpans();
    const hook = createCdnUrlsHook({ ...(assetOptions(schema) as object), hosts: ["cdn.example.ai", "cdn-dev.example.ai"], columns: [{ table: `${schema}.assets`, column: "url" }, { table: `${schema}.assets`, column: "meta" }], name: "assets-cdn", registry, postgres: async () => pool });
    const runner = createRunner(hook, { registry, tracer, enabled: true });

    const first = await runner.runOnce();
    expect(first.outcome).toBe("success");
    const firstReport = first.report as CdnUrlsReport;
    expect(firstReport.columns.map((column) => [column.scanned, column.incremental])).toEqual([[600, false], [600, false]]);
    expect(firstReport.columns[0]!.rows).toBe(420);
    for (const row of await contentOf(pool, schema)) expect(row.url).toBe(expectedRow(Number(row.id)).url);

    // an old writer keeps storing full URLs: updates and inserts
    await pool.query(`UPDATE "${schema}".assets SET url = 'https://cdn.example.ai/new/' || id, meta = jsonb_build_object('u', 'https://cdn-dev.example.ai/m/' || id) WHERE id IN (5, 50, 500)`);
    await pool.query(`INSERT INTO "${schema}".assets (id, url, meta) VALUES (601, '//cdn.example.ai/inserted.png', '["https://cdn.example.ai/x"]')`);
    const second = (await runner.runOnce()).report as CdnUrlsReport;
    expect(second.columns.map((column) => [column.rows, column.incremental])).toEqual([[4, true], [4, true]]);
    expect(second.columns.map((column) => column.examined)).toEqual([4, 4]);
    expect(firstReport.columns[0]!.examined).toBe(600); // url and meta are walked together: rows matching either
    expect(second.remaining).toEqual({ [`${schema}.assets`]: 0 });
    const rows = (await pool.query(`SELECT id, url, meta::text FROM "${schema}".assets WHERE id IN (5, 50, 500, 601) ORDER BY id`)).rows;
    expect(rows.map((row) => row.url)).toEqual(["/new/5", "/new/50", "/new/500", "/inserted.png"]);
    expect(rows.map((row) => JSON.parse(row.meta))).toEqual([{ u: "/m/5" }, { u: "/m/50" }, { u: "/m/500" }, ["/x"]]);

    const third = (await runner.runOnce()).report as CdnUrlsReport;
    expect(third.removed).toBe(0);

    const rewritten = await registry.getSingleMetricAsString("reclaim_cdn_urls_rewritten_total");
    expect(rewritten).toContain(`reclaim_cdn_urls_rewritten_total{hook="assets-cdn",table="${schema}.assets"} ${firstReport.removed + second.removed}`);
    expect(await registry.getSingleMetricAsString("reclaim_cdn_urls_remaining_values")).toContain(`reclaim_cdn_urls_remaining_values{hook="assets-cdn",table="${schema}.assets"} 0`);
    // the console's figures: values rewritten (a bar against rewritten + left) and what is left per table
    const total = firstReport.removed + second.removed;
    expect(hook.status?.()).toMatchObject({
      resources: [
        { label: "values rewritten since start", value: total, unit: "count", max: total },
        { label: `${schema}.assets: values still on old hosts`, value: 0, unit: "count" },
      ],
    });
    const finished = await spans();
    expect(finished.map((span) => span.name)).toEqual(["rewrite cdn-urls", "rewrite cdn-urls", "rewrite cdn-urls"]);
    expect(finished[1]?.attributes["reclaim.cdn_urls.values_rewritten"]).toBe(second.removed);
    expect(finished[1]?.attributes["db.system.name"]).toBe("postgresql");
  });

  it("catches on its next pass a row written by a transaction that was still open when the previous pass started", async () => {
    const schema = uniqueSchema("hookopen");
    schemas.push(schema);
    await createAssets(pool, schema, 50);
    const hook = createCdnUrlsHook({ hosts: ["cdn.example.ai"], columns: [{ table: `${schema}.assets`, column: "url" }], progressTable: `${schema}.progress`, postgres: pool });
    const runner = createRunner(hook, { enabled: true });
    await runner.runOnce();
    const writer = await pool.connect();
    try {
      await writer.query("BEGIN");
      await writer.query(`UPDATE "${schema}".assets SET url = 'https://cdn.example.ai/late.png' WHERE id = 7`);
      // transactions that take xids while the writer is open, so its xid is well behind the next pass's
      for (let i = 0; i < 20; i++) await pool.query(`UPDATE "${schema}".assets SET n = n + 1 WHERE id = 8`);
      const during = (await runner.runOnce()).report as CdnUrlsReport;
      expect(during.columns[0]!.rows).toBe(0);
      await writer.query("COMMIT");
    } finally {
      writer.release();
    }
    for (let i = 0; i < 20; i++) await pool.query(`UPDATE "${schema}".assets SET n = n + 1 WHERE id = 8`);
    const after = (await runner.runOnce()).report as CdnUrlsReport;
    expect(after.columns[0]).toMatchObject({ rows: 1, incremental: true });
    expect((await pool.query(`SELECT url FROM "${schema}".assets WHERE id = 7`)).rows[0].url).toBe("/late.png");
  });

  it("in a dry run reports what it would rewrite and the values left, and changes nothing", async () => {
    const schema = uniqueSchema("hookdry");
    schemas.push(schema);
    await createAssets(pool, schema, 100);
    const before = await contentOf(pool, schema);
    const hook = createCdnUrlsHook({ hosts: ["cdn.example.ai", "cdn-dev.example.ai"], columns: [{ table: `${schema}.assets`, column: "url" }], progressTable: `${schema}.progress`, postgres: pool });
    const result = await createRunner(hook, { enabled: true, dryRun: true }).runOnce();
    expect(result.report).toMatchObject({ removed: 70, remaining: { [`${schema}.assets`]: 70 } });
    expect(await contentOf(pool, schema)).toEqual(before);
  });

  it("fails the pass naming a missing column, without touching the table", async () => {
    const schema = uniqueSchema("hookbad");
    schemas.push(schema);
    await createAssets(pool, schema, 10);
    const hook = createCdnUrlsHook({ hosts: ["cdn.example.ai"], columns: [{ table: `${schema}.assets`, column: "nope" }], postgres: pool });
    const result = await createRunner(hook, { enabled: true }).runOnce();
    expect(result.outcome).toBe("failure");
    expect(result.error).toContain(`column "nope" does not exist in table "${schema}.assets"`);
  });

  it("is built by its definition with the instance name, a Postgres lock by default and its pool from the environment", async () => {
    expect(cdnUrlsDefinition.stores).toEqual(["postgres"]);
    const schema = uniqueSchema("hookdef");
    schemas.push(schema);
    await createAssets(pool, schema, 20);
    const registry = new Registry();
    const options = cdnUrlsDefinition.options.parse({ hosts: ["cdn.example.ai"], columns: [{ table: `${schema}.assets`, column: "url" }], progressTable: `${schema}.progress` });
    const hook = await cdnUrlsDefinition.create(options, testHookEnvironment({ instance: "media-urls", registry, postgres: async () => pool }));
    expect(hook.name).toBe("media-urls");
    await createRunner(hook, { registry, enabled: true }).runOnce();
    expect(await registry.getSingleMetricAsString("reclaim_cdn_urls_rewritten_total")).toContain(`{hook="media-urls",table="${schema}.assets"} 8`);
  });
});
