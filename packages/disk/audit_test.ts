import { Writable } from "node:stream";
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "@reclaim/core";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { auditDir, formatAudit, logDiskAudit } from "./audit.ts";
import { file } from "./_test_fixtures.ts";

async function tree(root: string): Promise<void> {
  await file(root, "images/a.png", 0, 3 * 1024 * 1024);
  await file(root, "images/sub/b.png", 0, 1000);
  await file(root, "videos/c.mp4", 0, 2 * 1024 * 1024);
  await file(root, "events.jsonl", 0, 5000);
  await file(root, ".reclaim/published.jsonl", 0, 10);
}

describe("auditDir()", () => {
  it.each([0, 2])("totals bytes and files per top-level folder and lists the largest files (threads: %i)", async (threads) => {
    await using dir = await tempDir("audit-");
    await tree(dir.path);
    await using outside = await tempDir("audit-outside-");
    await file(outside.path, "huge.bin", 0, 4 * 1024 * 1024);
    await symlink(outside.path, join(dir.path, "linked"));
    const result = await auditDir(dir.path, { top: 2, threads });
    expect(result.totalBytes).toBe(5 * 1024 * 1024 + 6010);
    expect(result.files).toBe(5);
    expect(result.byFolder).toEqual([
      { name: "images", bytes: 3 * 1024 * 1024 + 1000, files: 2 },
      { name: "videos", bytes: 2 * 1024 * 1024, files: 1 },
      { name: ".", bytes: 5000, files: 1 },
      { name: ".reclaim", bytes: 10, files: 1 },
    ]);
    expect(result.largest).toEqual([
      { path: "images/a.png", bytes: 3 * 1024 * 1024 },
      { path: "videos/c.mp4", bytes: 2 * 1024 * 1024 },
    ]);
    expect(result.skipped).toEqual({ symlinks: 1, otherFilesystems: 0, errors: 0 });
  });

  it("formatAudit() renders a readable table with binary units", async () => {
    await using dir = await tempDir("audit-");
    await tree(dir.path);
    await mkdir(join(dir.path, "empty"));
    const text = formatAudit(await auditDir(dir.path, { top: 3, threads: 0 }));
    expect(text).toContain("5.0 MiB in 5 files");
    expect(text).toMatch(/^FOLDER\s+SIZE\s+FILES\s+SHARE$/m);
    expect(text).toMatch(/^images\s+3\.0 MiB\s+2\s+60\.0%$/m);
    expect(text).toMatch(/^images\/a\.png\s+3\.0 MiB$/m);
    expect(text).toMatch(/^events\.jsonl|^\.\s+4\.9 KiB/m);
  });

  it("logDiskAudit() logs one structured disk-audit line", async () => {
    await using dir = await tempDir("audit-");
    await tree(dir.path);
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    const logger = createLogger({ destination });
    const result = await logDiskAudit(dir.path, logger, { top: 1, threads: 0 });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ event: "disk-audit", msg: "disk-audit", totalBytes: result?.totalBytes, files: 5, largest: [{ path: "images/a.png", bytes: 3 * 1024 * 1024 }] });
  });

  it("logDiskAudit() logs a warning instead of throwing when the folder is missing", async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    expect(await logDiskAudit("/nonexistent/reclaim-audit", createLogger({ destination }))).toBeUndefined();
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, event: "disk-audit", msg: "disk-audit failed" });
  });
});
