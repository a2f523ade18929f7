import { chmod, chown, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fork } from "node:child_process";
import { writeFileAtomic } from "./atomic_write.ts";
import { formatOwner, OWNER, SELF, startTimeOf } from "./process_identity.ts";
import { removeStaleTemps, TEMP_MARKER, tempPathFor } from "./temp_file.ts";
import { isReclaimEnabled } from "./kill_switch.ts";
import { tempDir } from "./testing.ts";

describe("writeFileAtomic()", () => {
  it("replaces the file's content and leaves no temporary file behind", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "posts.json");
    await writeFile(path, "old");
    await writeFileAtomic(path, '{"new":true}');
    expect(await readFile(path, "utf8")).toBe('{"new":true}');
    expect((await readdir(dir.path)).filter((name) => name.includes(TEMP_MARKER))).toEqual([]);
  });

  it("keeps the replaced file's mode and, as root, its owner", async (ctx) => {
    await using dir = await tempDir();
    const path = join(dir.path, "posts.json");
    await writeFile(path, "old");
    await chmod(path, 0o600);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await chown(path, 1234, 5678);
    await writeFileAtomic(path, "new");
    const after = await stat(path);
    expect(after.mode & 0o777).toBe(0o600);
    if (!asRoot) return ctx.skip("changing owners needs root");
    expect([after.uid, after.gid]).toEqual([1234, 5678]);
  });

  it("removes temp files left by a writer that died, and leaves a live writer's alone", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "posts.json");
    const child = fork("-e", [], { execArgv: ["-e", ""], stdio: "ignore" });
    await new Promise((resolve) => child.on("exit", resolve));
    const temp = (owner: string, id = "0badc0de") => join(dir.path, `.posts.json${TEMP_MARKER}${id}.${owner}`);
    const dead = temp(formatOwner({ ...SELF, pid: child.pid!, start: "-" }));
    // A restarted container runs its new process under the same pid: the predecessor's temp is not ours.
    const predecessor = temp(formatOwner({ ...SELF, nonce: "deadbeefdeadbeef" }));
    // Another process got the parent's pid after it (another start time): the temp's writer is gone.
    const reused = temp(formatOwner({ ...SELF, pid: process.ppid, start: "1" }));
    const live = temp(formatOwner({ ...SELF, pid: process.ppid, start: startTimeOf(process.ppid) }), "00c0ffee");
    const mine = temp(OWNER, "11111111");
    const foreign = temp(formatOwner({ ...SELF, pid: 7, machine: "0123456789abcdef", host: "other-host" }), "22222222");
    const legacy = join(dir.path, `.posts.json${TEMP_MARKER}999999999-0badc0de`);
    const oldLegacy = join(dir.path, `.posts.json${TEMP_MARKER}${process.ppid}-0ld0ld00`);
    const other = join(dir.path, `.other.json${TEMP_MARKER}0badc0de.${formatOwner({ ...SELF, pid: child.pid! })}`);
    for (const file of [dead, predecessor, reused, live, mine, foreign, legacy, oldLegacy, other]) await writeFile(file, "partial");
    const twoHoursAgo = new Date(Date.now() - 7_200_000);
    await utimes(oldLegacy, twoHoursAgo, twoHoursAgo);
    expect(await removeStaleTemps(path)).toBe(4);
    await writeFileAtomic(path, "{}");
    const left = (await readdir(dir.path)).sort();
    expect(left).toEqual([other, live, mine, foreign, legacy].map((p) => p.slice(dir.path.length + 1)).concat("posts.json").sort());
    // A writer on another host is judged by the temp's age.
    await utimes(foreign, twoHoursAgo, twoHoursAgo);
    expect(await removeStaleTemps(path)).toBe(1);
  });

  it("names its temp files after the writer, beside the target", () => {
    const temp = tempPathFor("/data/posts.json");
    expect(temp.startsWith(`/data/.posts.json${TEMP_MARKER}`)).toBe(true);
    expect(temp.endsWith(`.${OWNER}`)).toBe(true);
  });

  it("leaves the original untouched when the folder is gone mid-way", async () => {
    await expect(writeFileAtomic("/nonexistent-dir/x.json", "x")).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("isReclaimEnabled()", () => {
  it("is on by default and off for RECLAIM_ENABLED or GC_ENABLED set to false, 0, no or off", () => {
    expect(isReclaimEnabled({})).toBe(true);
    expect(isReclaimEnabled({ RECLAIM_ENABLED: "true" })).toBe(true);
    for (const value of ["false", "FALSE", "0", "no", "off"]) {
      expect(isReclaimEnabled({ RECLAIM_ENABLED: value })).toBe(false);
      expect(isReclaimEnabled({ GC_ENABLED: value })).toBe(false);
    }
  });
});
