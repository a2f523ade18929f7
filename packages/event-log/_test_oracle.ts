/**
 * Test helpers: an independent, forward-scanning statement of the trim rule (the oracle the backward scanner is
 * checked against) and fixture builders.
 */
import { readdir } from "node:fs/promises";

/**
 * The longest suffix of `bytes` that starts at a line boundary (0, after a `\n`, or the end) and holds at most
 * `keepLines` complete lines and at most `maxBytes` bytes. Returns its start offset and complete lines.
 */
export function expectedSuffix(bytes: Uint8Array, maxBytes: number, keepLines: number): { start: number; lines: number } {
  const boundaries = [0];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) boundaries.push(i + 1);
  const newlines = boundaries.length - 1;
  if (boundaries[boundaries.length - 1] !== bytes.length) boundaries.push(bytes.length);
  for (let k = 0; k < boundaries.length; k++) {
    const start = boundaries[k]!;
    // Complete lines in [start, end): newlines at positions >= start.
    const lines = newlines - Math.min(k, newlines);
    if (bytes.length - start <= maxBytes && lines <= keepLines) return { start, lines };
  }
  return { start: bytes.length, lines: 0 };
}

/** Numbered lines `line 000001 <padding>\n`, each `width` bytes with the newline. */
export function numberedLines(count: number, width = 64, from = 0): Buffer {
  const parts: string[] = [];
  for (let i = from; i < from + count; i++) {
    const head = `line ${String(i).padStart(6, "0")} `;
    parts.push(head.padEnd(width - 1, "x") + "\n");
  }
  return Buffer.from(parts.join(""));
}

/** Names in a folder, sorted. */
export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
