import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { formatOwner, OWNER, SELF, startTimeOf } from "@reclaim/core";
import { lockDirFor } from "./_lock.ts";
import { numberedLines } from "./_test_oracle.ts";
import { openEventLog } from "./appender.ts";
import { EventLogError } from "./errors.ts";
import { trimToLastLines } from "./trim_log.ts";

const host = encodeURIComponent(hostname());
const hasProc = existsSync("/proc/self/stat");
/** Our pid and host, but another process's nonce: what a restarted container's PID 1 finds from its predecessor. */
const predecessor = formatOwner({ ...SELF, nonce: "deadbeefdeadbeef" });
/** Another pid namespace (or boot) on a host with our hostname: a sibling container sharing the volume. */
const sibling = (pid: number) => formatOwner({ ...SELF, pid, machine: "0123456789abcdef" });

async function logWithLock(records: Record<string, string>): Promise<{ path: string; lockDir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await tempDir();
  const path = join(dir.path, "events.jsonl");
  await writeFile(path, numberedLines(100));
  const lockDir = lockDirFor(path);
  await mkdir(lockDir);
  for (const [name, text] of Object.entries(records)) await writeFile(join(lockDir, name), text);
  return { path, lockDir, [Symbol.asyncDispose]: async () => { await dir[Symbol.asyncDispose](); } };
}

async function deadPid(): Promise<number> {
  const child = fork("-e", [], { execArgv: ["-e", ""], stdio: "ignore" });
  const pid = child.pid!;
  await new Promise((resolve) => child.on("exit", resolve));
  return pid;
}

describe("records left by a process that had our pid (a restarted container)", () => {
  it("a rotate lock with our pid but another nonce is broken, so trims go on", async () => {
    await using log = await logWithLock({ rotate: `${predecessor} 0a0b0c0d\n` });
    expect((await trimToLastLines(log.path, { maxBytes: 1000, keepLines: 3 })).outcome).toBe("rotated");
    expect(await readFile(log.path)).toEqual(numberedLines(3, 64, 97));
    expect(await readdir(log.lockDir)).toEqual([]);
  });

  it("a rotate lock in the old `pid@host` format with our pid is broken (it cannot be ours)", async () => {
    await using log = await logWithLock({ rotate: `${process.pid}@${host} deadbeef\n` });
    expect((await trimToLastLines(log.path, { maxBytes: 1000, keepLines: 3 })).outcome).toBe("rotated");
  });

  it("a pause with our pid but another nonce does not hold openEventLog() or append() back", async () => {
    for (const pause of [predecessor, `${process.pid}@${host}`]) {
      await using log = await logWithLock({ pause: `${pause}\n` });
      await using appender = await openEventLog(log.path, { pauseTimeout: 0 });
      await appender.append("written");
      expect((await readFile(log.path, "utf8")).endsWith("written\n")).toBe(true);
    }
  });

  it("our own records are live: our lock makes the pass skip, our pause holds appends", async () => {
    await using log = await logWithLock({ rotate: `${OWNER} 0a0b0c0d\n`, pause: `${OWNER}\n` });
    expect((await trimToLastLines(log.path, { maxBytes: 1000 })).outcome).toBe("locked");
    const error = await openEventLog(log.path, { pauseTimeout: 0 }).catch((err: unknown) => err);
    expect((error as EventLogError).code).toBe("RECLAIM_ERR_EVENT_LOG_PAUSED");
  });
});

describe.skipIf(!hasProc)("records naming another live pid", () => {
  it("are stale when that pid started at another time than recorded (the pid was reused)", async () => {
    const reused = formatOwner({ ...SELF, pid: process.ppid, start: "1" });
    await using log = await logWithLock({ rotate: `${reused} 0a0b0c0d\n`, pause: `${reused}\n`, [`w-abcd.${reused}`]: "" });
    expect((await trimToLastLines(log.path, { maxBytes: 1000, keepLines: 3 })).outcome).toBe("rotated");
    expect(await readdir(log.lockDir)).toEqual([]);
  });

  it("are live when that pid started at the recorded time", async () => {
    const parent = formatOwner({ ...SELF, pid: process.ppid, start: startTimeOf(process.ppid), nonce: "0123" });
    await using log = await logWithLock({ rotate: `${parent} 0a0b0c0d\n` });
    expect((await trimToLastLines(log.path, { maxBytes: 1000 })).outcome).toBe("locked");
  });
});

describe("records of another pid namespace with our hostname (a sibling container)", () => {
  it("are not judged by a pid we cannot see: a fresh lock is respected, one older than 60 s is broken", async () => {
    const other = sibling(await deadPid());
    await using log = await logWithLock({ rotate: `${other} 0a0b0c0d\n` });
    expect((await trimToLastLines(log.path, { maxBytes: 1000 })).outcome).toBe("locked");
    const old = new Date(Date.now() - 120_000);
    await utimes(join(log.lockDir, "rotate"), old, old);
    expect((await trimToLastLines(log.path, { maxBytes: 1000, keepLines: 3 })).outcome).toBe("rotated");
  });

  it("a fresh writing flag holds the swap back (RECLAIM_ERR_EVENT_LOG_BUSY) instead of being removed as dead", async () => {
    const flag = `w-abcd.${sibling(await deadPid())}`;
    await using log = await logWithLock({ [flag]: "" });
    const error = await trimToLastLines(log.path, { maxBytes: 1000, drainTimeout: 20 }).catch((err: unknown) => err);
    expect((error as EventLogError).code).toBe("RECLAIM_ERR_EVENT_LOG_BUSY");
    expect(await readFile(log.path)).toEqual(numberedLines(100));
    expect(await readdir(log.lockDir)).toEqual([flag]);
  });

  it("a fresh pause holds appends back", async () => {
    await using log = await logWithLock({ pause: `${sibling(await deadPid())}\n` });
    const error = await openEventLog(log.path, { pauseTimeout: 0 }).catch((err: unknown) => err);
    expect((error as EventLogError).code).toBe("RECLAIM_ERR_EVENT_LOG_PAUSED");
  });
});

describe("an appender facing a pause that does not end", () => {
  it("fails that batch with RECLAIM_ERR_EVENT_LOG_PAUSED after pauseTimeout, naming the pause, and writes later batches", async () => {
    await using log = await logWithLock({});
    await using appender = await openEventLog(log.path, { pauseTimeout: 20 });
    await writeFile(join(log.lockDir, "pause"), `${OWNER}\n`);
    const error = await appender.append("held").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(EventLogError);
    expect((error as EventLogError).code).toBe("RECLAIM_ERR_EVENT_LOG_PAUSED");
    expect((error as Error).message).toContain(join(log.lockDir, "pause"));
    expect(await readFile(log.path)).toEqual(numberedLines(100));
    await rm(join(log.lockDir, "pause"));
    await appender.append("after");
    expect((await readFile(log.path, "utf8")).endsWith("after\n")).toBe(true);
  });

  it("refuses a pauseTimeout that is not a duration in ms, naming it", async () => {
    await expect(openEventLog("/tmp/x.jsonl", { pauseTimeout: -1 })).rejects.toThrow(/'pauseTimeout'.*-1/);
    await expect(openEventLog("/tmp/x.jsonl", { pauseTimeout: Number.NaN })).rejects.toThrow(/'pauseTimeout'/);
  });
});
