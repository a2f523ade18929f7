import type { FileHandle } from "node:fs/promises";

const NEWLINE = 0x0a;

/** Which suffix of a file to keep. */
export interface TailPlan {
  /** Offset where the kept suffix starts (0, just after a `\n`, or the end for an empty suffix). */
  start: number;
  /** Complete (`\n`-terminated) lines in the kept suffix. */
  linesKept: number;
}

/**
 * Finds the longest suffix of the first `size` bytes that starts at a line boundary and holds at most
 * `keepLines` complete lines and at most `maxBytes` bytes, reading backwards in chunks of `buffer.length`.
 * Reads at most `maxBytes + 1` bytes, whatever the size of the file. An unterminated last line is part of the
 * suffix (it is not a complete line) unless it alone is larger than `maxBytes`.
 */
export async function planTail(handle: FileHandle, size: number, keepLines: number, maxBytes: number, buffer: Buffer): Promise<TailPlan> {
  // The newline that bounds the kept suffix must sit at or after `floor`, or the suffix would exceed maxBytes.
  const floor = Math.max(0, size - maxBytes - 1);
  let found = 0;
  let boundary = -1;
  let end = size;
  scan: while (end > floor) {
    const from = Math.max(floor, end - buffer.length);
    const length = end - from;
    await readFully(handle, buffer, length, from);
    let index = length - 1;
    while (index >= 0) {
      const at = buffer.lastIndexOf(NEWLINE, index);
      if (at < 0) break;
      found++;
      boundary = from + at;
      if (found > keepLines) break scan;
      index = at - 1;
    }
    end = from;
  }
  if (found > keepLines) return { start: boundary + 1, linesKept: keepLines };
  // Ran out of bytes to look at: the whole file fits (only when size <= maxBytes), or the earliest newline seen
  // bounds the suffix (the line it ends starts before floor), or no boundary fits at all.
  if (floor === 0 && size <= maxBytes) return { start: 0, linesKept: found };
  if (found === 0) return { start: size, linesKept: 0 };
  return { start: boundary + 1, linesKept: found - 1 };
}

/** Copies bytes `[start, end)` of `source` to the current position of `target`, one buffer at a time. */
export async function copyRange(source: FileHandle, target: FileHandle, start: number, end: number, buffer: Buffer): Promise<void> {
  for (let position = start; position < end; ) {
    const length = Math.min(buffer.length, end - position);
    await readFully(source, buffer, length, position);
    for (let written = 0; written < length; ) {
      const { bytesWritten } = await target.write(buffer, written, length - written);
      written += bytesWritten;
    }
    position += length;
  }
}

async function readFully(handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`the file ended at ${position + done} bytes while ${position + length} were expected`);
    done += bytesRead;
  }
}
