import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { reclaim } from "./_test_cli.ts";

describe("reclaim audit", () => {
  it("prints a table of what fills a folder, or JSON with --json", async () => {
    await using dir = await tempDir("cli-audit-");
    await mkdir(join(dir.path, "images"));
    await writeFile(join(dir.path, "images", "big.png"), Buffer.alloc(3 * 1024 * 1024));
    await writeFile(join(dir.path, "events.jsonl"), "x".repeat(1024));
    const table = await reclaim(["audit", dir.path, "--top", "1"], { cwd: dir.path });
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("3.0 MiB");
    expect(table.stdout).toContain("images");
    const json = await reclaim(["audit", ".", "--json"], { cwd: dir.path });
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ files: 2, totalBytes: 3 * 1024 * 1024 + 1024 });
    expect(result.largest[0]).toMatchObject({ path: "images/big.png", bytes: 3 * 1024 * 1024 });
  });

  it("refuses a folder that does not exist, or a bad --top, with exit code 2", async () => {
    await using dir = await tempDir("cli-audit-");
    const missing = await reclaim(["audit", "nope"], { cwd: dir.path });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("reclaim: cannot audit nope: no such folder\n");
    expect((await reclaim(["audit", ".", "--top", "0"], { cwd: dir.path })).code).toBe(2);
  });
});

describe("reclaim docker check-labels", () => {
  it("exits 0 when every Dockerfile declares the label and 1 naming the ones that do not", async () => {
    await using dir = await tempDir("cli-labels-");
    await writeFile(join(dir.path, "good.Dockerfile"), 'FROM scratch\nLABEL reclaim.managed="true" other=x\n');
    await writeFile(join(dir.path, "bad.Dockerfile"), "FROM scratch\nLABEL other=x\n");
    const good = await reclaim(["docker", "check-labels", "good.Dockerfile"], { cwd: dir.path });
    expect(good.code).toBe(0);
    const bad = await reclaim(["docker", "check-labels", "good.Dockerfile", "bad.Dockerfile"], { cwd: dir.path });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("bad.Dockerfile");
    expect(bad.stdout).toMatch(/1 of 2 Dockerfile\(s\) do not declare reclaim\.managed=true/);
    const custom = await reclaim(["docker", "check-labels", "bad.Dockerfile"], { cwd: dir.path, env: { RECLAIM_DOCKER_LABEL: "other=x" } });
    expect(custom.code).toBe(0);
  });

  it("passes on the project's own Dockerfile", async () => {
    const root = new URL("../../", import.meta.url).pathname;
    const { code, stdout } = await reclaim(["docker", "check-labels", "docker/Dockerfile"], { cwd: root });
    expect(stdout).toContain("declares reclaim.managed=true");
    expect(code).toBe(0);
  });
});
