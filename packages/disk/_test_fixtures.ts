import type { Tracer } from "@opentelemetry/api";
import { createRunner, type Hook, type RunReport } from "@reclaim/core";
import type { Registry } from "prom-client";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

export const DAY = 86_400_000;

/** Writes `root/rel` with `bytes` bytes and sets its atime and mtime to `ageMs` ago. */
export async function file(root: string, rel: string, ageMs: number, bytes = 16): Promise<string> {
  const path = join(root, rel);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, Buffer.alloc(bytes, 120));
  const at = (Date.now() - ageMs) / 1000;
  await utimes(path, at, at);
  return path;
}

export async function exists(path: string): Promise<boolean> {
  const { lstat } = await import("node:fs/promises");
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs one pass of `hook` through a real runner and returns its report (throws if the pass failed). */
export async function runPass<R extends RunReport>(hook: Hook<R>, options: { dryRun?: boolean; registry?: Registry; tracer?: Tracer } = {}): Promise<R> {
  const runner = createRunner(hook, { ...options, enabled: true });
  const result = await runner.runOnce();
  if (result.outcome !== "success" || !result.report) throw new Error(`pass ${result.outcome}: ${result.error ?? ""}`);
  return result.report;
}
