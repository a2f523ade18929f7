import { open, readFile, stat } from "node:fs/promises";
import { writeFileAtomic } from "@reclaim/core";

/** An entry waiting for its remote copy to become verifiable. */
export interface PendingEntry {
  path: string;
  url: string;
  attempts: number;
  firstSeenAt: number;
}

/** Durable position in the journal, kept in `<journal>.state` (written atomically). */
export interface JournalState {
  /** Inode of the journal the offset belongs to; another inode means the journal was replaced. */
  ino: number;
  /** Bytes of the journal already consumed (always at a line boundary). */
  offset: number;
  pending: PendingEntry[];
}

const EMPTY: JournalState = { ino: 0, offset: 0, pending: [] };

export function statePath(journal: string): string {
  return `${journal}.state`;
}

export async function readState(journal: string): Promise<JournalState> {
  try {
    const parsed = JSON.parse(await readFile(statePath(journal), "utf8")) as Partial<JournalState>;
    return {
      ino: typeof parsed.ino === "number" ? parsed.ino : 0,
      offset: typeof parsed.offset === "number" && parsed.offset >= 0 ? parsed.offset : 0,
      pending: Array.isArray(parsed.pending) ? parsed.pending.filter((p) => p && typeof p.path === "string" && typeof p.url === "string") : [],
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { ...EMPTY, pending: [] };
    // A corrupt state file: start over. Re-verifying entries is harmless (gone files are skipped).
    return { ...EMPTY, pending: [] };
  }
}

export async function writeState(journal: string, state: JournalState): Promise<void> {
  await writeFileAtomic(statePath(journal), JSON.stringify(state));
}

/** Lines read from the journal past the state's offset. */
export interface JournalRead {
  ino: number;
  /** Offset after the last complete line read. */
  offset: number;
  lines: string[];
  /** The journal was replaced or truncated since the state was written: reading restarted at 0. */
  restarted: boolean;
}

const READ_LIMIT = 4 * 1024 * 1024;

/**
 * Reads complete lines after `state.offset` (at most `maxLines`, at most 4 MiB). A partial last line (an append in
 * progress) is left for the next pass. A replaced (other inode) or truncated journal is read from the start.
 */
export async function readJournal(journal: string, state: JournalState, maxLines: number): Promise<JournalRead | null> {
  let handle;
  try {
    handle = await open(journal, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const st = await handle.stat();
    let offset = state.offset;
    let restarted = false;
    if (st.ino !== state.ino || st.size < offset) {
      offset = 0;
      restarted = state.ino !== 0 || state.offset !== 0;
    }
    const length = Math.min(st.size - offset, READ_LIMIT);
    if (length <= 0) return { ino: st.ino, offset, lines: [], restarted };
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    const lines: string[] = [];
    let start = 0;
    while (lines.length < maxLines) {
      const newline = buffer.indexOf(10, start);
      if (newline < 0 || newline >= bytesRead) break;
      lines.push(buffer.toString("utf8", start, newline));
      start = newline + 1;
    }
    if (start === 0 && bytesRead === READ_LIMIT) {
      // One line longer than the read window: skip it rather than stall the journal forever.
      lines.push("");
      start = bytesRead;
    }
    return { ino: st.ino, offset: offset + start, lines, restarted };
  } finally {
    await handle.close();
  }
}

/**
 * Truncates the journal when everything in it has been consumed (`size === offset`) and it is at least
 * `minBytes`. Returns true when it did. An append landing between the size check and the truncation is lost;
 * its file is then left to the disk age sweep.
 */
export async function trimJournal(journal: string, offset: number, minBytes: number): Promise<boolean> {
  if (offset < minBytes) return false;
  const st = await stat(journal).catch(() => undefined);
  if (!st || st.size !== offset) return false;
  const handle = await open(journal, "r+");
  try {
    if ((await handle.stat()).size !== offset) return false;
    await handle.truncate(0);
    await handle.sync();
    return true;
  } finally {
    await handle.close();
  }
}
