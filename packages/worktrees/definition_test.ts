import { existsSync } from "node:fs";
import { join } from "node:path";
import { createRunner } from "@reclaim/core";
import { memorySpans, tempDir, testHookEnvironment } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createWorktreesHook } from "./clean_worktrees.ts";
import { worktreesDefinition } from "./definition.ts";
import { formatBytes, formatWorktreesReport } from "./format_report.ts";
import { addWorktree, ageTree, fillArtifact, makeRepo, put, SIXTY_DAYS } from "./_test_repo.ts";

describe("worktreesDefinition", () => {
  it("runs monthly, as the seed, is a local hook and fills in the seed's defaults", () => {
    expect(worktreesDefinition.name).toBe("worktrees");
    expect(worktreesDefinition.schedule.interval).toBe(30 * 86_400_000);
    expect(worktreesDefinition.stores).toBeUndefined();
    expect(worktreesDefinition.options.parse({ repos: ["/src/app"] })).toEqual({
      repos: ["/src/app"],
      days: 30,
      artifacts: ["node_modules", ".next", "dist", ".turbo", "target"],
      keep: [],
    });
  });

  it("refuses an artifact name with a slash or .git, naming the field", () => {
    expect(worktreesDefinition.options.safeParse({ repos: ["/r"], artifacts: ["apps/dist"] }).error?.issues[0]?.path).toEqual(["artifacts", 0]);
    expect(worktreesDefinition.options.safeParse({ repos: ["/r"], artifacts: [".git"] }).success).toBe(false);
    expect(() => createWorktreesHook({ repos: [] })).toThrow(/'repos'/);
  });

  it("builds an instance whose pass records metrics with its hook label and a span named clean worktrees", async () => {
    await using dir = await tempDir("wt-def-");
    const main = makeRepo(dir.path);
    const idle = addWorktree(main, "idle");
    const busy = addWorktree(main, "busy");
    fillArtifact(join(idle, "node_modules"));
    fillArtifact(join(busy, "node_modules"));
    put(join(busy, "work.txt"), "recent");
    const { utimesSync } = await import("node:fs");
    const soon = new Date(Date.now() + SIXTY_DAYS - 86_400_000);
    utimesSync(join(busy, "work.txt"), soon, soon);
    const registry = new Registry();
    const options = worktreesDefinition.options.parse({ repos: [main] });
    const hook = await worktreesDefinition.create(options, testHookEnvironment({ instance: "old-trees", registry }));
    const { tracer, spans } = memorySpans();
    // A dry run first: the idle worktree's artifacts are all still there, and the gauge says so.
    const dry = createRunner(hook, { registry, enabled: true, dryRun: true, now: () => Date.now() + SIXTY_DAYS });
    expect((await dry.runOnce()).outcome).toBe("success");
    expect(await registry.getSingleMetricAsString("reclaim_worktrees_artifact_bytes")).toMatch(/^reclaim_worktrees_artifact_bytes\{hook="old-trees"\} [1-9]\d{3,}$/m);
    expect(existsSync(join(idle, "node_modules"))).toBe(true);
    const runner = createRunner(hook, { registry, tracer, enabled: true, now: () => Date.now() + SIXTY_DAYS });

    const result = await runner.runOnce();

    expect(result.outcome).toBe("success");
    expect(existsSync(join(idle, "node_modules"))).toBe(false);
    expect(existsSync(join(busy, "node_modules"))).toBe(true);
    expect(await registry.getSingleMetricAsString("reclaim_worktrees")).toContain('reclaim_worktrees{hook="old-trees",scope="idle"} 1');
    expect(await registry.getSingleMetricAsString("reclaim_worktrees")).toContain('reclaim_worktrees{hook="old-trees",scope="active"} 1');
    expect(await registry.getSingleMetricAsString("reclaim_worktrees_artifact_bytes")).toContain('reclaim_worktrees_artifact_bytes{hook="old-trees"} 0');
    expect(await registry.getSingleMetricAsString("reclaim_worktrees_freed_bytes_total")).toMatch(/reclaim_worktrees_freed_bytes_total\{hook="old-trees"\} \d+/);
    expect(await registry.getSingleMetricAsString("reclaim_removed_total")).toContain('reclaim_removed_total{hook="old-trees",kind="artifact"} 1');
    const span = (await spans()).find((s) => s.name === "clean worktrees");
    expect(span?.attributes).toMatchObject({ "reclaim.worktrees.idle": 1, "reclaim.worktrees.active": 1 });
    expect(runner.status().details).toMatchObject({
      lastPass: { idle: 1, active: 1, artifactBytes: 0 },
      resources: expect.arrayContaining([{ label: "idle worktrees", value: 1, unit: "count", max: 2 }]),
    });
    // The console's figures: artifacts left in idle worktrees (none: removed) against those of every scanned worktree
    // (the active one's node_modules), and what the pass removed.
    const figures = (runner.status().details as { resources: Array<{ label: string; value: number; max?: number }> }).resources;
    const byLabel = Object.fromEntries(figures.map((f) => [f.label, f]));
    const activeBytes = byLabel["artifacts in all scanned worktrees"]!.value;
    expect(activeBytes).toBeGreaterThan(20 * 100);
    expect(byLabel["artifacts in idle worktrees"]).toEqual({ label: "artifacts in idle worktrees", value: 0, unit: "bytes", max: activeBytes });
    expect(byLabel["removed, last pass"]!.value).toBeGreaterThan(20 * 100);
  });
});

describe("formatWorktreesReport()", () => {
  it("writes sizes the way the seed does and ends with the totals line", () => {
    expect([formatBytes(107e9), formatBytes(34e9), formatBytes(229e6), formatBytes(3.4e9), formatBytes(812)]).toEqual(["107GB", "34GB", "229MB", "3.4GB", "812B"]);
    const text = formatWorktreesReport({
      removed: 1,
      reclaimedBytes: 73e9,
      removedByKind: { artifact: 1, worktree: 0 },
      repos: [
        {
          repo: "/src/emerge-turbo",
          totalBytesBefore: 107e9,
          totalBytesAfter: 34e9,
          worktrees: [
            {
              path: "/src/wt/old",
              branch: "old",
              state: "cleaned",
              reason: null,
              lastActivity: "2025-11-02T10:00:00.000Z",
              lastCommitAt: null,
              reflogAt: null,
              newestFileAt: null,
              artifactBytesBefore: 73e9,
              artifactBytesAfter: 0,
              totalBytesBefore: 107e9,
              totalBytesAfter: 34e9,
              artifacts: [],
            },
            {
              path: "/src/wt/user-decks",
              branch: "user-decks",
              state: "skipped",
              reason: 'kept (keep: "user-decks")',
              lastActivity: null,
              lastCommitAt: null,
              reflogAt: null,
              newestFileAt: null,
              artifactBytesBefore: 0,
              artifactBytesAfter: 0,
              totalBytesBefore: 0,
              totalBytesAfter: 0,
              artifacts: [],
            },
          ],
        },
      ],
      idle: 1,
      active: 0,
      protected: 1,
      broken: 0,
      removedBytes: 73e9,
      freedBytes: 72.9e9,
      outOfWorktreeMs: 3,
      finishedTrash: { folders: 0 },
      errors: [],
    });
    expect(text).toContain("  /src/wt/old  [old]  last activity 2025-11-02  cleaned: artifacts 73GB → 0B\n");
    expect(text).toContain('  /src/wt/user-decks  [user-decks]  last activity never  skipped: kept (keep: "user-decks")');
    expect(text).toContain("  worktrees: 107GB → 34GB\n");
    expect(text.trimEnd().split("\n").at(-1)).toBe("1 idle, 0 active, 1 protected, 0 broken; removed 1 artifact folder(s), 73GB; statfs: 73GB freed");
  });
});

describe("reclaim worktrees", () => {
  async function verb(argv: string[], cwd: string): Promise<{ code: number; stdout: string }> {
    const { Command } = await import("commander");
    const program = new Command().exitOverride();
    let stdout = "";
    let code = 0;
    worktreesDefinition.commands!(program, {
      stdout: (text) => void (stdout += text),
      stderr: () => undefined,
      env: {},
      cwd,
      exit: (c) => void (code = c),
      instances: () => Promise.resolve([]),
    });
    await program.parseAsync(["node", "reclaim", ...argv]);
    return { code, stdout };
  }

  it("--dry-run prints per worktree what would go and the totals line; --json prints the report; then a real pass cleans", async () => {
    await using dir = await tempDir("wt-verb-");
    const old = new Date(Date.now() - 40 * 86_400_000);
    const main = makeRepo(dir.path, old);
    const wt = addWorktree(main, "stale", old);
    fillArtifact(join(wt, "apps/web/.next"), 50);
    ageTree(wt, old);

    const dry = await verb(["worktrees", "--repo", main, "--dry-run"], dir.path);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`^  ${wt}  \\[stale\\]  last activity ${old.toISOString().slice(0, 10)}  would clean: artifacts \\d+KB → 0B$`, "m"));
    expect(dry.stdout).toMatch(/^  worktrees: \d+KB → \d+KB \(would be\)$/m);
    expect(existsSync(join(wt, "apps/web/.next"))).toBe(true);

    const text = await verb(["worktrees", "--repo", main, "--days", "50"], dir.path);
    expect(text.stdout).toMatch(new RegExp(`^  ${wt}  \\[stale\\]  last activity \\S+  active: last activity \\S+ \\((file|reflog|last commit)[^)]*\\), within 50 days  \\(artifacts \\d+KB\\)$`, "m"));
    const json = await verb(["worktrees", "--repo", main, "--days", "50", "--json"], dir.path);
    expect(JSON.parse(json.stdout)).toMatchObject({ active: 1, idle: 0, removed: 0 });

    const real = await verb(["worktrees", "--repo", main], dir.path);
    expect(real.stdout).toMatch(/^1 idle, 0 active, 0 protected, 0 broken; removed 1 artifact folder\(s\), \d+KB; statfs: \d+\w+ freed$/m);
    expect(existsSync(join(wt, "apps/web/.next"))).toBe(false);
  });

  it("refuses a missing --repo or a bad --days with a usage error (exit 2)", async () => {
    await expect(verb(["worktrees"], "/")).rejects.toMatchObject({ code: "RECLAIM_ERR_USAGE" });
    await expect(verb(["worktrees", "--repo", "/x", "--days", "soon"], "/")).rejects.toThrow(/--days must be a whole number/);
  });
});
