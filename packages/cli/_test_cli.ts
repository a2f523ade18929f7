import { Writable } from "node:stream";
import { main } from "./program.ts";

/** Runs `reclaim ...argv` in-process and captures its exit code, stdout and stderr. */
export async function reclaim(argv: string[], options: { cwd: string; env?: Record<string, string>; signal?: AbortSignal }): Promise<{ code: number; stdout: string; stderr: string; logs: string }> {
  let stdout = "";
  let stderr = "";
  let logs = "";
  const logDestination = new Writable({
    write(chunk, _encoding, callback) {
      logs += String(chunk);
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
