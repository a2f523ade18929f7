import { Writable } from "node:stream";
import type { HookDefinition } from "@reclaim/core";
import { definitions as builtIn } from "./hooks.ts";
import { main } from "./program.ts";

/** What {@link reclaim} runs the command with. */
export interface ReclaimRun {
  cwd: string;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** @default the built-in hook definitions */
  definitions?: readonly HookDefinition[];
  /** Called with all the log lines so far each time one arrives (to wait for an event while the command runs). */
  onLogs?: (logs: string) => void;
}

/** Runs `reclaim ...argv` in-process and captures its exit code, stdout, stderr and JSON log lines. */
export async function reclaim(argv: string[], options: ReclaimRun): Promise<{ code: number; stdout: string; stderr: string; logs: string }> {
  let stdout = "";
  let stderr = "";
  let logs = "";
  const logDestination = new Writable({
    write(chunk, _encoding, callback) {
      logs += String(chunk);
      options.onLogs?.(logs);
      callback();
    },
  });
  const previous = process.cwd();
  try {
    const code = await main(argv, {
      stdout: (text) => void (stdout += text),
      stderr: (text) => void (stderr += text),
      env: { ...options.env },
      cwd: options.cwd,
      logDestination,
      ...(options.signal ? { signal: options.signal } : {}),
    }, options.definitions ?? builtIn);
    return { code, stdout, stderr, logs };
  } finally {
    process.chdir(previous);
  }
}
