import { Writable } from "node:stream";
import { main } from "./program.ts";

/**
 * Runs `reclaim ...argv` in-process and captures its exit code, stdout and stderr. `onLogs` is called with all
 * the log lines so far each time one arrives (to wait for an event while the command runs).
 */
export async function reclaim(
  argv: string[],
  options: { cwd: string; env?: Record<string, string>; signal?: AbortSignal; onLogs?: (logs: string) => void },
): Promise<{ code: number; stdout: string; stderr: string; logs: string }> {
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
    });
    return { code, stdout, stderr, logs };
  } finally {
    process.chdir(previous);
  }
}
