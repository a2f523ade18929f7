/**
 * The coordination protocol between the trimmer and the appenders, in a folder beside the log
 * (`.events.jsonl.reclaim-lock/`). Node has no `flock`, so it is built from plain files:
 *
 * - `rotate`: held by the one trimmer working on the log (created with `link`, which fails if it exists).
 * - `pause`: created by the `rotate` holder just before it swaps the file; appenders do not write while it is live.
 * - `w-<id>.<owner>`: an appender's "writing now" flag, present only around one `write(2)`.
 *
 * Mutual exclusion is Dekker's: an appender creates its flag, then looks for `pause`; the trimmer creates
 * `pause`, then lists the flags and waits until none is live. Whichever comes second sees the first. Every record
 * names its owner process (pid, start time, per-process nonce, machine, host: see `@reclaim/core`'s `process_identity.ts`); a record
 * whose owner is dead is stale. Local file systems only (not NFS).
 */
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { OWNER, ownerIsLive } from "@reclaim/core";
import { EventLogError } from "./errors.ts";

/** Flags: `w-<id>.<owner>`, and `w-<pid>-<id>@<host>` of older versions. */
const FLAG = /^w-[0-9a-f]+\.(.+)$/;
const LEGACY_FLAG = /^w-(\d+)-[0-9a-f]+@(.+)$/;
/** Scratch files of trimmers: `rotate.<kind>.<id>.<owner>`, and `rotate.<kind>.<pid>.<id>@<host>` of older versions. */
const SCRATCH = /^rotate\.(?:draft|stale)\.[0-9a-f]+\.(.+\+.+)$/;
const LEGACY_SCRATCH = /^rotate\.(?:draft|stale)\.(\d+)\.[0-9a-f]+@(.+)$/;

/** A uniquely named scratch file of this process in the lock folder (its owner can be told from its name). */
function scratchName(kind: "draft" | "stale"): string {
  return `rotate.${kind}.${randomBytes(4).toString("hex")}.${OWNER}`;
}

/** The owner named by a flag's or scratch file's name, or `null` when the name is not one. */
function ownerInName(name: string, current: RegExp, legacy: RegExp): string | null {
  const match = current.exec(name);
  if (match) return match[1]!;
  const old = legacy.exec(name);
  return old ? `${old[1]}@${old[2]}` : null;
}

/** The lock folder of a log: `dir/.name.reclaim-lock`. */
export function lockDirFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.reclaim-lock`);
}

/**
 * Takes the `rotate` lock (one trimmer per log). Returns its release function, or `null` when a live trimmer
 * holds it. A stale lock is broken: renamed away, checked, removed.
 */
export async function acquireRotateLock(lockDir: string): Promise<(() => Promise<void>) | null> {
  await mkdir(lockDir, { recursive: true });
  const lockPath = join(lockDir, "rotate");
  const mine = `${OWNER} ${randomBytes(4).toString("hex")}\n`;
  const draft = join(lockDir, scratchName("draft"));
  await writeFile(draft, mine);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(draft, lockPath);
        return async () => {
          if ((await readRecord(lockPath))?.text === mine) await unlink(lockPath).catch(() => {});
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const held = await readRecord(lockPath);
      if (!held) continue;
      if (ownerIsLive(held.owner, held.mtimeMs)) return null;
      const grave = join(lockDir, scratchName("stale"));
      try {
        await rename(lockPath, grave);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      const taken = await readRecord(grave);
      if (taken && taken.text !== held.text) {
        // Another trimmer broke the stale lock and took it between our read and our rename: give it back.
        await link(grave, lockPath).catch(() => {});
        await unlink(grave).catch(() => {});
        return null;
      }
      await unlink(grave).catch(() => {});
    }
    return null;
  } finally {
    await unlink(draft).catch(() => {});
  }
}

/**
 * Run by the `rotate` holder: raises `pause` and waits until no live appender is inside a write. Flags of dead
 * appenders are removed. Returns the function that lowers `pause` again. Throws `RECLAIM_ERR_EVENT_LOG_BUSY`
 * (after lowering `pause`) when live flags remain for `timeoutMs`.
 */
export async function pauseAppenders(lockDir: string, timeoutMs: number): Promise<() => Promise<void>> {
  const pausePath = join(lockDir, "pause");
  const draft = join(lockDir, `pause.draft-${randomBytes(4).toString("hex")}`);
  await writeFile(draft, `${OWNER}\n`);
  await rename(draft, pausePath);
  const resume = () => unlink(pausePath).catch(() => {});
  const deadline = Date.now() + timeoutMs;
  for (let wait = 0; ; wait = Math.min(wait + 1, 10)) {
    if ((await liveFlags(lockDir)) === 0) return resume;
    if (Date.now() > deadline) {
      await resume();
      throw new EventLogError("RECLAIM_ERR_EVENT_LOG_BUSY", `appenders of ${basename(lockDir)} did not step aside within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

async function liveFlags(lockDir: string): Promise<number> {
  let live = 0;
  for (const name of await readdir(lockDir)) {
    const owner = ownerInName(name, FLAG, LEGACY_FLAG);
    if (owner === null) continue;
    const path = join(lockDir, name);
    if (ownerIsLive(owner, () => mtimeOfSync(path))) live++;
    else await unlink(path).catch(() => {});
  }
  return live;
}

/**
 * Removes what a killed trimmer left in the lock folder (`pause`, drafts, stale-lock graves) and the flags of
 * dead appenders. Only the `rotate` holder calls it.
 */
export async function clearStaleLockState(lockDir: string): Promise<void> {
  for (const name of await readdir(lockDir)) {
    const path = join(lockDir, name);
    if (name === "pause" || name.startsWith("pause.draft-")) {
      // Only the rotate holder (the caller) raises pause: any pause found now was left by a killed trimmer.
      await unlink(path).catch(() => {});
    } else {
      // Scratch files of other trimmers: one may be using its own right now, so remove only a dead owner's.
      const owner = ownerInName(name, SCRATCH, LEGACY_SCRATCH);
      if (owner !== null && !ownerIsLive(owner, () => mtimeOfSync(path))) await unlink(path).catch(() => {});
    }
  }
  await liveFlags(lockDir);
}

/**
 * An appender's side of the protocol, synchronous so that a flag is never held across an `await`.
 */
export class WriterFlag {
  readonly #lockDir: string;
  readonly #flagPath: string;
  /** The `pause` file appenders wait on. */
  readonly pausePath: string;

  constructor(lockDir: string) {
    this.#lockDir = lockDir;
    this.#flagPath = join(lockDir, `w-${randomBytes(4).toString("hex")}.${OWNER}`);
    this.pausePath = join(lockDir, "pause");
  }

  /** Raises the flag and returns `null`; or returns the owner of `pause` (flag lowered again) when a live trimmer has paused appenders. */
  enter(): string | null {
    try {
      closeSync(openSync(this.#flagPath, "w"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      mkdirSync(this.#lockDir, { recursive: true });
      closeSync(openSync(this.#flagPath, "w"));
    }
    let owner: string;
    try {
      owner = readFileSync(this.pausePath, "utf8").trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      this.leave();
      throw err;
    }
    // The pause file is stat'ed only when its owner cannot be checked directly (another host or pid namespace).
    if (!ownerIsLive(owner, () => mtimeOfSync(this.pausePath))) return null;
    this.leave();
    return owner;
  }

  /** Lowers the flag. */
  leave(): void {
    try {
      unlinkSync(this.#flagPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

async function readRecord(path: string): Promise<{ text: string; owner: string; mtimeMs: number } | null> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { text, owner: text.trim().split(" ")[0] ?? "", mtimeMs: info.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** The mtime of a file, or `null` when it is gone (asked for only when an owner cannot be checked directly). */
function mtimeOfSync(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}
