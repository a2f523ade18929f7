/**
 * Who owns a record (a lock file, a writer's flag, a temp file), and whether that owner is still alive.
 *
 * A pid alone does not name a process: a container that restarts runs its new process as the same pid (often 1)
 * with the same hostname, and two containers that share a hostname but not a pid namespace each have their own
 * pid 1. So every record carries an owner of the form `<pid>+<start>+<nonce>+<machine>@<host>`:
 *
 * - `nonce`: random, drawn once per process (shared by every copy of this module loaded in the process).
 * - `start`: the process start time, field 22 of `/proc/self/stat` (clock ticks since boot), `-` without `/proc`.
 * - `machine`: a hash of the boot id (`/proc/sys/kernel/random/boot_id`) and the pid namespace
 *   (`/proc/self/ns/pid`): pids can be checked only between processes with the same one. `-` without `/proc`.
 * - `host`: the URI-encoded hostname.
 *
 * An owner on our host and machine is judged exactly: our own pid is alive only with our nonce (otherwise the
 * record was left by an earlier process that had our pid); another pid is alive when it exists, is not a zombie
 * and, where `/proc` tells, started at the recorded time. Any other owner (another host, another pid namespace,
 * another boot, or a record in an older format) cannot be checked and is judged by the record's age.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

/** A lock record whose owner cannot be checked is considered stale after this long (temp files: `FOREIGN_TEMP_STALE_MS`). */
export const FOREIGN_STALE_MS = 60_000;

/** How a record's owner is judged: known alive, known dead, or only by the record's age. */
export type OwnerVerdict = "live" | "dead" | "by-age";

/** The parts of an owner string. `start` and `machine` are `-` when unknown. */
export interface Owner {
  pid: number;
  start: string;
  nonce: string;
  machine: string;
  host: string;
}

const HOST = encodeURIComponent(hostname());

/** State (field 3) and start time (field 22) from `/proc/<pid>/stat`, or `null` when it cannot be read. */
function readProcStat(pid: number | "self"): { state: string; start: string } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces and parentheses) start with field 3, the state.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const start = fields[22 - 3];
  return state && start && /^\d+$/.test(start) ? { state, start } : null;
}

function machineId(): string {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const pidNamespace = readlinkSync("/proc/self/ns/pid");
    return createHash("sha256").update(`${boot}\n${pidNamespace}`).digest("hex").slice(0, 16);
  } catch {
    return "-";
  }
}

/** The nonce of this process, shared through `globalThis` so that two copies of this module (dist and source) agree. */
function processNonce(): string {
  const key = Symbol.for("@reclaim/core.process-nonce");
  const store = globalThis as unknown as Record<symbol, { pid: number; nonce: string } | undefined>;
  const held = store[key];
  if (held && held.pid === process.pid) return held.nonce;
  const nonce = randomBytes(8).toString("hex");
  store[key] = { pid: process.pid, nonce };
  return nonce;
}

/**
 * This process's identity.
 *
 * @example
 * ```ts
 * formatOwner({ ...SELF, pid: 1234 }); // an owner on this machine with another pid (tests)
 * ```
 */
export const SELF: Owner = {
  pid: process.pid,
  start: readProcStat("self")?.start ?? "-",
  nonce: processNonce(),
  machine: machineId(),
  host: HOST,
};

/**
 * Formats an owner as it is written into records and file names: `<pid>+<start>+<nonce>+<machine>@<host>`.
 *
 * @example
 * ```ts
 * formatOwner(SELF) === OWNER; // true
 * ```
 */
export function formatOwner(owner: Owner): string {
  return `${owner.pid}+${owner.start}+${owner.nonce}+${owner.machine}@${owner.host}`;
}

/**
 * This process's owner string, written into lock records, writer flags and temp-file names.
 *
 * @example
 * ```ts
 * await writeFile(join(lockDir, "rotate"), `${OWNER}\n`);
 * ```
 */
export const OWNER = formatOwner(SELF);

/**
 * Parses an owner string; `null` when it is not in the current format (for example `pid@host` of older versions).
 *
 * @example
 * ```ts
 * parseOwner(OWNER)?.pid === process.pid; // true
 * ```
 */
export function parseOwner(text: string): Owner | null {
  const match = /^(\d+)\+([0-9]+|-)\+([0-9a-f]+)\+([0-9a-f]+|-)@([^@\s]+)$/.exec(text);
  if (!match) return null;
  const pid = Number(match[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  return { pid, start: match[2]!, nonce: match[3]!, machine: match[4]!, host: match[5]! };
}

/**
 * Judges the owner of a record without looking at the record's age: `by-age` means it cannot be checked from
 * here, and the caller decides by the record's age ({@link FOREIGN_STALE_MS} for lock records).
 *
 * @example
 * ```ts
 * judgeOwner(OWNER); // "live"
 * judgeOwner(formatOwner({ ...SELF, nonce: "0" })); // "dead": our pid, but an earlier process (a restarted container)
 * ```
 */
export function judgeOwner(text: string): OwnerVerdict {
  const owner = parseOwner(text);
  if (!owner) {
    // An older format, `pid@host`: it is never ours, so our own pid in it means the process that wrote it is gone.
    const legacy = /^(\d+)@(.+)$/.exec(text);
    if (legacy && legacy[2] === HOST && Number(legacy[1]) === process.pid) return "dead";
    return "by-age";
  }
  if (owner.host !== HOST || owner.machine !== SELF.machine) return "by-age";
  if (owner.pid === process.pid) return owner.nonce === SELF.nonce ? "live" : "dead";
  return pidMatches(owner.pid, owner.start) ? "live" : "dead";
}

/** Whether `pid` is a live process (not a zombie) that started at `start` (when both sides know the start time). */
function pidMatches(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = readProcStat(pid);
  // Without /proc, kill(0) is all we have; with it, an unreadable entry means the process has just exited.
  if (!stat) return SELF.start === "-";
  if (stat.state === "Z" || stat.state === "X") return false; // killed, not reaped yet
  return start === "-" || stat.start === start;
}

/**
 * The start time of a process on this machine, as recorded in an owner string; `-` when unknown.
 *
 * @example
 * ```ts
 * formatOwner({ ...SELF, pid: process.ppid, start: startTimeOf(process.ppid) }); // the parent, judged live
 * ```
 */
export function startTimeOf(pid: number): string {
  return readProcStat(pid)?.start ?? "-";
}

/**
 * Whether the owner of a record last modified at `mtimeMs` is alive (see {@link judgeOwner}; an owner that cannot
 * be checked is alive while the record is younger than {@link FOREIGN_STALE_MS}).
 *
 * @example
 * ```ts
 * if (!ownerIsLive(record.owner, record.mtimeMs)) await unlink(path);
 * ```
 */
export function ownerIsLive(text: string, mtimeMs: number | (() => number | null)): boolean {
  const verdict = judgeOwner(text);
  if (verdict !== "by-age") return verdict === "live";
  const at = typeof mtimeMs === "function" ? mtimeMs() : mtimeMs;
  if (at === null) return false;
  return Date.now() - at < FOREIGN_STALE_MS;
}
