import { type FileHandle, readdir, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { createTempFile } from "@reclaim/core";

const CHUNK = 1 << 20;
const STAMP = String.raw`\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z`;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Archive names of a log, `events.jsonl.2026-11-21T21-28-00.123Z.gz`, which sort oldest first. */
export function archivePattern(path: string): RegExp {
  return new RegExp(`^${escape(basename(path))}\\.${STAMP}\\.gz$`);
}

/**
 * Gzips bytes `[0, end)` of the open log into `events.jsonl.<UTC time>.gz` beside it (core's `createTempFile`:
 * temp file, fsync, then a `link` that never overwrites; the time is moved on by 1 ms while a name is taken). The
 * archive gets the log's mode (and owner, when we are root): it holds the same data. Returns the archive's path.
 */
export async function archiveHead(source: FileHandle, end: number, path: string, signal?: AbortSignal): Promise<string> {
  const log = await source.stat();
  await using temp = await createTempFile(`${path}.gz`, { like: log });
  const target = temp.handle;
  await pipeline(
    async function* read() {
      for (let position = 0; position < end; ) {
        const chunk = Buffer.allocUnsafe(Math.min(CHUNK, end - position));
        const { bytesRead } = await source.read(chunk, 0, chunk.length, position);
        if (bytesRead === 0) throw new Error(`the log ended at ${position} bytes while archiving ${end}`);
        position += bytesRead;
        yield chunk.subarray(0, bytesRead);
      }
    },
    createGzip(),
    async function write(gzipped: AsyncIterable<Buffer>) {
      for await (const chunk of gzipped) {
        for (let written = 0; written < chunk.length; ) written += (await target.write(chunk, written)).bytesWritten;
      }
    },
    signal ? { signal } : {},
  );
  for (let time = Date.now(); ; time++) {
    const archive = join(dirname(path), `${basename(path)}.${new Date(time).toISOString().replace(/:/g, "-")}.gz`);
    try {
      await temp.publish(archive);
      return archive;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/** Removes all but the newest `keep` archives of the log; returns the paths removed. */
export async function pruneArchives(path: string, keep: number): Promise<string[]> {
  const pattern = archivePattern(path);
  const archives = (await readdir(dirname(path))).filter((name) => pattern.test(name)).sort();
  const removed: string[] = [];
  for (const name of archives.slice(0, Math.max(0, archives.length - keep))) {
    const archive = join(dirname(path), name);
    try {
      await unlink(archive);
      removed.push(archive);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return removed;
}
