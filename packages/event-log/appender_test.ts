import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { formatOwner, OWNER, SELF } from "@reclaim/core";
import { lockDirFor } from "./_lock.ts";
import { openEventLog } from "./appender.ts";
import { trimToLastLines } from "./trim_log.ts";

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 1));
};

describe("openEventLog()", () => {
  it("creates the log and appends lines in order, adding a newline only where one is missing", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "sub", "events.jsonl");
    await using log = await openEventLog(path);
    await Promise.all([log.append("a"), log.append("b\n"), log.append(Buffer.from([0xff, 0x0a])), log.appendJson({ c: 1 })]);
    await log.append(new Uint8Array([0x64]));
    expect(await readFile(path)).toEqual(Buffer.concat([Buffer.from("a\nb\n"), Buffer.from([0xff, 0x0a]), Buffer.from('{"c":1}\nd\n')]));
  });

  it("reopens the file a trim renamed over the old one, and a file someone removed", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await using log = await openEventLog(path);
    for (let i = 0; i < 100; i++) await log.append(`line ${i}`);
    await trimToLastLines(path, { maxBytes: 100, keepLines: 2 });
    await log.append("after trim");
    expect(await readFile(path, "utf8")).toBe("line 98\nline 99\nafter trim\n");
    await rm(path);
    await log.append("after rm");
    expect(await readFile(path, "utf8")).toBe("after rm\n");
    expect(log.reopens).toBe(2);
  });

  it("holds lines back while a live trimmer has paused appenders, and writes them when it is done", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await using log = await openEventLog(path);
    await mkdir(lockDirFor(path), { recursive: true });
    await writeFile(join(lockDirFor(path), "pause"), `${OWNER}\n`);
    let written = false;
    const pending = log.append("held").then(() => {
      written = true;
    });
    await ticks(20);
    expect(written).toBe(false);
    expect(await readFile(path, "utf8")).toBe("");
    await rm(join(lockDirFor(path), "pause"));
    await pending;
    expect(await readFile(path, "utf8")).toBe("held\n");
  });

  it("is not held back by the pause of a trimmer that died", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await mkdir(lockDirFor(path), { recursive: true });
    await writeFile(join(lockDirFor(path), "pause"), `${formatOwner({ ...SELF, pid: 999_999_999 })}\n`);
    await using log = await openEventLog(path);
    await log.append("written");
    expect(await readFile(path, "utf8")).toBe("written\n");
  });

  it("refuses appends after close and lowers its flag", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    const log = await openEventLog(path);
    await log.append("one");
    await log.close();
    await log.close();
    await expect(log.append("two")).rejects.toThrow(/closed/);
    expect(await readFile(path, "utf8")).toBe("one\n");
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(lockDirFor(path))).toEqual([]);
  });
});
