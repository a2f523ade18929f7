import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { databaseUrl, tempDir } from "@reclaim/core/testing";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { reclaim } from "./_test_cli.ts";

const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
const schema = `cdn_cli_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

describe("reclaim backfill cdn-urls", () => {
  it("reads the cdn-urls block of the config: dry run, backfill, verify, and exit 2 for a missing column before any write", async () => {
    await using dir = await tempDir("cli-cdn-");
    await pool.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".flat_file (id serial PRIMARY KEY, url text)`);
    await pool.query(`INSERT INTO "${schema}".flat_file (url) SELECT CASE WHEN i % 10 < 7 THEN 'https://cdn-dev.example.ai/generations/' || i || '/image.png' ELSE '/kept/' || i END FROM generate_series(1, 200) i`);
    const block = { hosts: ["cdn.example.ai", "cdn-dev.example.ai"], columns: [{ table: `${schema}.flat_file`, column: "url" }], progressTable: `${schema}.progress` };
    const config = join(dir.path, "reclaim.config.json");
    await writeFile(config, JSON.stringify({ hooks: { "cdn-urls": block } }));
    const env = { DATABASE_URL: databaseUrl };

    const hooks = await reclaim(["hooks", "-c", config, "--json"], { cwd: dir.path, env });
    expect(JSON.parse(hooks.stdout).hooks.find((hook: { type: string }) => hook.type === "cdn-urls").instances).toEqual([{ name: "cdn-urls", enabled: true, lock: "postgres" }]);

    const dry = await reclaim(["backfill", "cdn-urls", "-c", config, "--dry-run"], { cwd: dir.path, env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`${schema}\\.flat_file\\.url\\s+text\\s+200\\s+140`));
    const verifyBefore = await reclaim(["backfill", "cdn-urls", "-c", config, "--verify"], { cwd: dir.path, env });
    expect(verifyBefore.code).toBe(1);

    const run = await reclaim(["backfill", "cdn-urls", "-c", config], { cwd: dir.path, env });
    expect(run.stderr).toContain("cdn-urls:");
    expect(run.code).toBe(0);
    expect((await pool.query(`SELECT count(*)::int AS n FROM "${schema}".flat_file WHERE url LIKE '/generations/%'`)).rows[0].n).toBe(140);
    const verifyAfter = await reclaim(["backfill", "cdn-urls", "-c", config, "--verify"], { cwd: dir.path, env });
    expect(verifyAfter.code).toBe(0);

    await writeFile(config, JSON.stringify({ hooks: { "cdn-urls": { ...block, columns: [...block.columns, { table: `${schema}.flat_file`, column: "uri" }] } } }));
    const bad = await reclaim(["backfill", "cdn-urls", "-c", config], { cwd: dir.path, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`reclaim: cdn-urls: column "uri" does not exist in table "${schema}.flat_file"\n`);
  });
});
