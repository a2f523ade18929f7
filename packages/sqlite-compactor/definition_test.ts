import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createRunner, silentLogger } from "@reclaim/core";
import { tempDir, testHookEnvironment } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { sqliteCompactorDefinition } from "./definition.ts";
import { createJobsDatabase } from "./_test_fixture.ts";

describe("sqliteCompactorDefinition", () => {
  it("runs every hour, first after 60 s", () => {
    expect(sqliteCompactorDefinition.name).toBe("sqlite-compactor");
    expect(sqliteCompactorDefinition.schedule).toEqual({ interval: 3_600_000, initialDelay: 60_000 });
  });

  it("embeds compaction only for the first SQLite file in the data folder, skipping files that only look like one", async () => {
    await using dir = await tempDir("sqlite-");
    await writeFile(join(dir.path, "a.db"), "not sqlite");
    createJobsDatabase(join(dir.path, "b.sqlite"), []);
    createJobsDatabase(join(dir.path, "c.db"), []);
    expect(sqliteCompactorDefinition.embeddedDefault!({ env: {}, dataDir: dir.path })).toEqual({ path: join(dir.path, "b.sqlite") });
  });

  it("leaves the hook off when the data folder has no SQLite database or does not exist", async () => {
    await using dir = await tempDir("sqlite-");
    expect(sqliteCompactorDefinition.embeddedDefault!({ env: {}, dataDir: dir.path })).toBeUndefined();
    expect(sqliteCompactorDefinition.embeddedDefault!({ env: {}, dataDir: join(dir.path, "missing") })).toBeUndefined();
  });

  it("builds a hook from config-file options and answers system.compactor_status from its runner", async () => {
    await using dir = await tempDir("sqlite-");
    const path = join(dir.path, "app.db");
    createJobsDatabase(path, [{ id: 1, status: "done", created_at: "2001-01-01" }]);
    const registry = new Registry();
    const options = sqliteCompactorDefinition.options.parse({ path, tables: [{ table: "jobs", terminal: ["done"], maxAge: "7d" }] });
    const hook = await sqliteCompactorDefinition.create(options, testHookEnvironment({ instance: "sqlite-compactor", dataDir: dir.path, registry }));
    const runner = createRunner(hook, { registry, enabled: true });
    const rpc = sqliteCompactorDefinition.rpc!["system.compactor_status"]!;
    expect(rpc(runner)).toMatchObject({ lastRun: null, nextRun: null, totals: { rowsDeleted: 0 }, databaseBytes: expect.any(Number) });
    await runner.runOnce();
    expect(rpc(runner)).toMatchObject({ lastOutcome: "success", lastPass: { rowsDeleted: 1 }, totals: { rowsDeleted: 1, passes: 1 } });
    expect(JSON.parse(JSON.stringify(rpc(runner)))).toEqual(rpc(runner));
  });
});
