import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, readdir, rename, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { formatOwner, OWNER, SELF } from "@reclaim/core";
import { lockDirFor } from "./_lock.ts";
import { expectedSuffix, listDir, numberedLines } from "./_test_oracle.ts";
import { trimLog, type TrimSettings } from "./_trim.ts";
import { openEventLog } from "./appender.ts";
import { EventLogError } from "./errors.ts";
import { trimToLastLines } from "./trim_log.ts";

const settings = (over: Partial<TrimSettings> = {}): TrimSettings => ({
  maxBytes: 1000,
  keepLines: 5,
  archiveKeep: null,
  dryRun: false,
  drainTimeout: 5_000,
  signal: undefined,
  ...over,
});

async function deadPid(): Promise<number> {
  const child = fork("-e", [], { execArgv: ["-e", ""], stdio: "ignore" });
  const pid = child.pid!;
  await new Promise((resolve) => child.on("exit", resolve));
  return pid;
}

describe("trimToLastLines()", () => {
  it("does nothing to a missing file and creates nothing", async () => {
    await using dir = await tempDir();
    const result = await trimToLastLines(join(dir.path, "events.jsonl"), { maxBytes: 10 });
    expect(result.outcome).toBe("missing");
    expect(await listDir(dir.path)).toEqual([]);
  });

  it("leaves a file under the limit and an empty file exactly as they are", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    const content = numberedLines(10);
    await writeFile(path, content);
    const inode = (await stat(path)).ino;
    expect((await trimToLastLines(path, { maxBytes: content.length, keepLines: 1 })).outcome).toBe("under-limit");
    expect(await readFile(path)).toEqual(content);
    expect((await stat(path)).ino).toBe(inode);
    await writeFile(path, "");
    expect((await trimToLastLines(path, { maxBytes: 1, keepLines: 1 })).outcome).toBe("under-limit");
    expect((await readFile(path)).length).toBe(0);
  });

  it("replaces a file over the limit by its last keepLines lines, keeping its mode", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    const content = numberedLines(100);
    await writeFile(path, content);
    await chmod(path, 0o640);
    const result = await trimToLastLines(path, { maxBytes: 1000, keepLines: 10 });
    expect(await readFile(path)).toEqual(numberedLines(10, 64, 90));
    expect(result).toMatchObject({ outcome: "rotated", bytesBefore: 6400, bytesAfter: 640, keptBytes: 640, linesKept: 10, reclaimedBytes: 5760, salvagedBytes: 0 });
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    expect((await readdir(dir.path)).filter((n) => n !== "events.jsonl" && n !== ".events.jsonl.reclaim-lock")).toEqual([]);
    expect(await readdir(lockDirFor(path))).toEqual([]);
  });

  it("keeps an unterminated last line as it is, without counting it as a line", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, Buffer.concat([numberedLines(50), Buffer.from('{"partial":')]));
    const result = await trimToLastLines(path, { maxBytes: 1000, keepLines: 3 });
    expect(await readFile(path)).toEqual(Buffer.concat([numberedLines(3, 64, 47), Buffer.from('{"partial":')]));
    expect(result.linesKept).toBe(3);
  });

  it("keeps CRLF line endings byte for byte (the \\r belongs to its line)", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    const lines = Array.from({ length: 40 }, (_, i) => `{"n":${i}}\r\n`);
    await writeFile(path, lines.join(""));
    await trimToLastLines(path, { maxBytes: 100, keepLines: 4 });
    expect(await readFile(path, "latin1")).toBe(lines.slice(-4).join(""));
  });

  it("drops a single line larger than maxBytes, keeping the lines after it", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    const giant = Buffer.concat([Buffer.alloc(5000, "g"), Buffer.from("\n")]);
    await writeFile(path, Buffer.concat([numberedLines(3), giant]));
    const alone = await trimToLastLines(path, { maxBytes: 1000, keepLines: 10 });
    expect((await readFile(path)).length).toBe(0);
    expect(alone).toMatchObject({ outcome: "rotated", linesKept: 0, bytesAfter: 0, reclaimedBytes: 5193 });

    await writeFile(path, Buffer.concat([giant, numberedLines(2)]));
    await trimToLastLines(path, { maxBytes: 1000, keepLines: 10 });
    expect(await readFile(path)).toEqual(numberedLines(2));
  });

  it("drops an unterminated last line larger than maxBytes", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, Buffer.concat([numberedLines(3), Buffer.alloc(2000, "p")]));
    await trimToLastLines(path, { maxBytes: 1000, keepLines: 10 });
    expect((await readFile(path)).length).toBe(0);
  });

  it("keeps only the lines that fit in maxBytes when the file has fewer lines than keepLines", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(20, 100));
    const result = await trimToLastLines(path, { maxBytes: 1050, keepLines: 10_000 });
    expect(await readFile(path)).toEqual(numberedLines(10, 100, 10));
    expect(result.linesKept).toBe(10);
  });

  it("keeps bytes that are not valid UTF-8 exactly", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    const lines = Array.from({ length: 30 }, () => Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]), randomBytes(20).map((b) => (b === 10 ? 11 : b)), Buffer.from("\n")]));
    await writeFile(path, Buffer.concat(lines));
    await trimToLastLines(path, { maxBytes: 200, keepLines: 7 });
    expect(await readFile(path)).toEqual(Buffer.concat(lines.slice(-7)));
  });

  it("with keepLines 0 keeps only an unterminated last line", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, Buffer.concat([numberedLines(30), Buffer.from("tail")]));
    await trimToLastLines(path, { maxBytes: 100, keepLines: 0 });
    expect(await readFile(path, "utf8")).toBe("tail");
  });

  it("agrees with a forward-scanning statement of the rule on random files and chunk sizes", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    for (let round = 0; round < 300; round++) {
      const parts: Buffer[] = [];
      const count = Math.floor(Math.random() * 40);
      for (let i = 0; i < count; i++) {
        const line = Buffer.from(randomBytes(Math.floor(Math.random() * (Math.random() < 0.1 ? 200 : 30))).map((b) => (b === 10 ? 13 : b)));
        parts.push(line, Buffer.from(Math.random() < 0.2 ? "\r\n" : "\n"));
      }
      if (Math.random() < 0.3) parts.push(Buffer.from(randomBytes(Math.floor(Math.random() * 50)).map((b) => (b === 10 ? 0 : b))));
      if (Math.random() < 0.2) parts.unshift(Buffer.from("\n\n"));
      const content = Buffer.concat(parts);
      const maxBytes = 1 + Math.floor(Math.random() * Math.max(1, content.length));
      const keepLines = Math.floor(Math.random() * 12);
      await writeFile(path, content);
      const result = await trimLog(path, settings({ maxBytes, keepLines, chunkSize: 1 + Math.floor(Math.random() * 64) }));
      const after = await readFile(path);
      if (content.length <= maxBytes) {
        expect(result.outcome).toBe("under-limit");
        expect(after).toEqual(content);
        continue;
      }
      const expected = expectedSuffix(content, maxBytes, keepLines);
      expect({ round, after: after.toString("hex"), lines: result.linesKept }).toEqual({ round, after: content.subarray(expected.start).toString("hex"), lines: expected.lines });
    }
  });

  it("in a dry run reports what it would keep and touches nothing", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(100));
    const result = await trimToLastLines(path, { maxBytes: 1000, keepLines: 10, dryRun: true });
    expect(result).toMatchObject({ outcome: "would-rotate", bytesBefore: 6400, bytesAfter: 640, linesKept: 10, reclaimedBytes: 5760 });
    expect(await readFile(path)).toEqual(numberedLines(100));
    expect(await listDir(dir.path)).toEqual(["events.jsonl"]);
  });

  it("removes temporary files left by an interrupted trim of this log, and only those", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(10));
    const dead = formatOwner({ ...SELF, pid: await deadPid() });
    // A restarted container: the same pid as ours, another process (another nonce).
    const predecessor = formatOwner({ ...SELF, nonce: "deadbeefdeadbeef" });
    const leftovers = [`.events.jsonl.reclaim-tmp-0a1b2c3d.${dead}`, `.events.jsonl.gz.reclaim-tmp-00ff00ff.${predecessor}`, ".events.jsonl.reclaim-tmp-4242-0a1b2c3d"];
    const others = [`.events.jsonl.old.reclaim-tmp-0a1b2c3d.${dead}`, `.other.jsonl.reclaim-tmp-0a1b2c3d.${dead}`, "events.jsonl.reclaim-tmp-1-aa", `.events.jsonl.reclaim-tmp-11111111.${OWNER}`];
    for (const name of [...leftovers, ...others]) await writeFile(join(dir.path, name), "x");
    // A name of an older version carries a bare pid, which cannot be judged: it goes once it is an hour old.
    const twoHoursAgo = new Date(Date.now() - 7_200_000);
    await utimes(join(dir.path, leftovers[2]!), twoHoursAgo, twoHoursAgo);
    const result = await trimToLastLines(path, { maxBytes: 10_000 });
    expect(result).toMatchObject({ outcome: "under-limit", removedTemps: 3 });
    expect(await listDir(dir.path)).toEqual([...others, ".events.jsonl.reclaim-lock", "events.jsonl"].sort());
  });

  it("skips the pass while a live trimmer holds the log, and breaks the lock of a dead one", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(100));
    const lockDir = lockDirFor(path);
    await mkdir(lockDir);
    await writeFile(join(lockDir, "rotate"), `${OWNER} live\n`);
    expect((await trimToLastLines(path, { maxBytes: 1000 })).outcome).toBe("locked");
    expect(await readFile(path)).toEqual(numberedLines(100));

    const dead = await deadPid();
    const deadOwner = formatOwner({ ...SELF, pid: dead });
    await writeFile(join(lockDir, "rotate"), `${deadOwner} dead\n`);
    await writeFile(join(lockDir, "pause"), `${deadOwner}\n`);
    await writeFile(join(lockDir, `w-abcd.${deadOwner}`), "");
    await writeFile(join(lockDir, `rotate.draft.abcd.${deadOwner}`), "");
    expect((await trimToLastLines(path, { maxBytes: 1000, keepLines: 3 })).outcome).toBe("rotated");
    expect(await readFile(path)).toEqual(numberedLines(3, 64, 97));
    expect(await readdir(lockDir)).toEqual([]);
  });

  it("gives up with RECLAIM_ERR_EVENT_LOG_BUSY when a live appender never steps aside, changing nothing", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(100));
    const lockDir = lockDirFor(path);
    await mkdir(lockDir);
    const flag = `w-beef.${OWNER}`;
    await writeFile(join(lockDir, flag), "");
    const error = await trimToLastLines(path, { maxBytes: 1000, drainTimeout: 50 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(EventLogError);
    expect((error as EventLogError).code).toBe("RECLAIM_ERR_EVENT_LOG_BUSY");
    expect(await readFile(path)).toEqual(numberedLines(100));
    expect(await readdir(lockDir)).toEqual([flag]);
    expect(await listDir(dir.path)).toEqual([".events.jsonl.reclaim-lock", "events.jsonl"]);
  });

  it("stops on an aborted signal before swapping, leaving the file and no temp behind", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(100));
    const controller = new AbortController();
    const error = await trimLog(path, settings({ signal: controller.signal }), (phase) => {
      if (phase === "locked") controller.abort();
    }).catch((err: unknown) => err);
    expect((error as { code?: string }).code).toBe("RECLAIM_ERR_ABORTED");
    expect(await readFile(path)).toEqual(numberedLines(100));
    expect(await listDir(dir.path)).toEqual([".events.jsonl.reclaim-lock", "events.jsonl"]);
  });

  it("refuses to swap a file that another program replaced during the trim", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(100));
    const error = await trimLog(path, settings(), async (phase) => {
      if (phase === "copied") {
        await writeFile(join(dir.path, "other"), "replacement\n");
        await rename(join(dir.path, "other"), path);
      }
    }).catch((err: unknown) => err);
    expect((error as EventLogError).code).toBe("RECLAIM_ERR_EVENT_LOG_REPLACED");
    expect(await readFile(path, "utf8")).toBe("replacement\n");
    expect(await listDir(dir.path)).toEqual([".events.jsonl.reclaim-lock", "events.jsonl"]);
  });

  it("carries over lines appended after its snapshot, once, and appenders reopen the new file", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    await writeFile(path, numberedLines(100));
    const raw = await open(path, "a"); // a writer that keeps its descriptor across the rotation
    await using log = await openEventLog(path);
    const result = await trimLog(path, settings({ maxBytes: 1000, keepLines: 2 }), async (phase) => {
      if (phase === "copied") {
        await raw.write("raw before swap\n");
        await log.append("appender before swap");
      }
    });
    expect(result).toMatchObject({ outcome: "rotated", salvagedBytes: 37, bytesAfter: 128 + 37 });
    await log.append("appender after swap");
    await raw.write("raw after swap\n"); // goes to the old, unlinked file: what a plain writer can lose
    await raw.close();
    expect(await readFile(path, "utf8")).toBe(numberedLines(2, 64, 98).toString() + "raw before swap\nappender before swap\nappender after swap\n");
    expect(log.reopens).toBe(1);
  });

  it("archives the trimmed-away head with gzip and keeps the newest archives", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    const archives: string[] = [];
    for (let round = 0; round < 4; round++) {
      await writeFile(path, numberedLines(50, 64, round * 100));
      const result = await trimToLastLines(path, { maxBytes: 1000, keepLines: 5, archive: { keep: 2 } });
      expect(result.archive).not.toBeNull();
      expect(gunzipSync(await readFile(result.archive!))).toEqual(numberedLines(45, 64, round * 100));
      archives.push(result.archive!);
      expect(result.removedArchives).toEqual(round >= 2 ? [archives[round - 2]] : []);
    }
    const names = (await readdir(dir.path)).filter((n) => n.endsWith(".gz"));
    expect(names.map((n) => join(dir.path, n)).sort()).toEqual(archives.slice(-2));
  });

  it("gives an archive the log's mode, so a private log's history stays private", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "events.jsonl");
    for (const mode of [0o600, 0o640, 0o604]) {
      await writeFile(path, numberedLines(50));
      await chmod(path, mode);
      const result = await trimToLastLines(path, { maxBytes: 1000, keepLines: 5, archive: { keep: 5 } });
      expect((await stat(result.archive!)).mode & 0o7777).toBe(mode);
      expect((await stat(path)).mode & 0o7777).toBe(mode);
    }
  });

  it("names a bad option and its value", async () => {
    await expect(trimToLastLines("/tmp/x", { maxBytes: -1 })).rejects.toThrow(/'maxBytes'.*-1/);
    await expect(trimToLastLines("/tmp/x", { keepLines: 1.5 })).rejects.toThrow(/'keepLines'/);
  });
});
