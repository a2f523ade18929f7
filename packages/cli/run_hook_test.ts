import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { reclaim } from "./_test_cli.ts";

async function eventLogFixture(dir: string, lines: number) {
  const path = join(dir, "events.jsonl");
  await writeFile(path, Array.from({ length: lines }, (_, i) => `{"n":${i},"pad":"${"x".repeat(90)}"}\n`).join(""));
  await writeFile(join(dir, "reclaim.config.json"), JSON.stringify({ hooks: { "event-log": { path: "events.jsonl", maxBytes: "10KiB", keepLines: 10 } } }));
  return path;
}

describe("reclaim run", () => {
  it("runs one pass of a hook from the config file and prints its report as JSON", async () => {
    await using dir = await tempDir("cli-");
    const path = await eventLogFixture(dir.path, 1_000);
    const { code, stdout, stderr } = await reclaim(["run", "event-log", "-c", "reclaim.config.json"], { cwd: dir.path });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ hook: "event-log", outcome: "success", dryRun: false });
    expect(result.report.reclaimedBytes).toBeGreaterThan(90_000);
    const kept = (await readFile(path, "utf8")).trim().split("\n");
    expect(kept).toHaveLength(10);
    expect(JSON.parse(kept[0]!).n).toBe(990);
  });

  it("touches nothing with --dry-run", async () => {
    await using dir = await tempDir("cli-");
    const path = await eventLogFixture(dir.path, 1_000);
    const before = await readFile(path);
    const { code, stdout } = await reclaim(["run", "event-log", "-c", "reclaim.config.json", "--dry-run"], { cwd: dir.path });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ dryRun: true, outcome: "success" });
    expect(await readFile(path)).toEqual(before);
  });

  it("skips the pass (exit 0) and touches nothing when RECLAIM_ENABLED=false", async () => {
    await using dir = await tempDir("cli-");
    const path = await eventLogFixture(dir.path, 1_000);
    const before = await readFile(path);
    const { code, stdout } = await reclaim(["run", "event-log", "-c", "reclaim.config.json"], { cwd: dir.path, env: { RECLAIM_ENABLED: "false" } });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ outcome: "skipped" });
    expect(await readFile(path)).toEqual(before);
  });

  it("refuses an unknown hook with exit code 2, listing the configured ones", async () => {
    await using dir = await tempDir("cli-");
    const { code, stderr } = await reclaim(["run", "evnt-log"], { cwd: dir.path });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^reclaim: no hook named 'evnt-log' in the embedded default \(no config file\) \(configured: event-log, disk/);
  });

  it("refuses a hook the config file does not configure, before touching anything", async () => {
    await using dir = await tempDir("cli-");
    await eventLogFixture(dir.path, 10);
    const { code, stderr } = await reclaim(["run", "disk", "-c", "reclaim.config.json"], { cwd: dir.path });
    expect(code).toBe(2);
    expect(stderr).toContain(`no hook named 'disk' in ${join(dir.path, "reclaim.config.json")} (configured: event-log)`);
  });

  it("exits 1 when the pass fails, with the error in the JSON report", async () => {
    await using dir = await tempDir("cli-");
    // A valid config whose pass cannot succeed: the event log's path is a folder, bigger than maxBytes, so the
    // trim gets past the options and the size check and fails reading it (EISDIR).
    await mkdir(join(dir.path, "events.jsonl"));
    await writeFile(join(dir.path, "reclaim.config.json"), JSON.stringify({ hooks: { "event-log": { path: "events.jsonl", maxBytes: 10, keepLines: 1 } } }));
    const { code, stdout, stderr } = await reclaim(["run", "event-log", "-c", "reclaim.config.json"], { cwd: dir.path });
    expect({ code, stderr }).toEqual({ code: 1, stderr: "" });
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ hook: "event-log", outcome: "failure", dryRun: false });
    expect(result.error).toMatch(/EISDIR/);
    expect(result.report).toBeUndefined();
  });

  it("answers --help for every verb with exit code 0", async () => {
    await using dir = await tempDir("cli-");
    for (const argv of [["--help"], ["start", "--help"], ["run", "--help"], ["config", "check", "--help"], ["audit", "--help"], ["docker", "check-labels", "--help"]]) {
      const { code, stdout } = await reclaim(argv, { cwd: dir.path });
      expect(code, argv.join(" ")).toBe(0);
      expect(stdout).toMatch(/^Usage: reclaim/);
    }
  });

  it("refuses an unknown verb or option with exit code 2", async () => {
    await using dir = await tempDir("cli-");
    expect((await reclaim(["frobnicate"], { cwd: dir.path })).code).toBe(2);
    expect((await reclaim(["run", "disk", "--dry-rnu"], { cwd: dir.path })).code).toBe(2);
    expect((await reclaim(["run"], { cwd: dir.path })).code).toBe(2);
  });
});
