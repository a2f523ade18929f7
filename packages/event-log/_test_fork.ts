/** Test helper: forks one of this package's `_test_*_child.ts` scripts as a real Node process. */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { forkTs as forkTypeScript } from "@reclaim/core/testing";

const register = fileURLToPath(new URL("./_test_ts_register.mjs", import.meta.url));

/**
 * Forks `script` (a `.ts` file beside this one) with `args`, an IPC channel, and TypeScript support. With
 * `leanCore`, `@reclaim/core` is only its atomic-write and error modules (enough for the trimmer and appender).
 */
export function forkTs(script: string, args: string[], options: { leanCore?: boolean } = {}): ChildProcess {
  return forkTypeScript(new URL(script, import.meta.url), args, {
    env: { ...process.env, RECLAIM_TEST_LEAN_CORE: options.leanCore ? "1" : "0" },
    execArgv: ["--import", register],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

/** Resolves with the next IPC message of `child` that satisfies `match`, or rejects when the child exits first. */
export function nextMessage<T>(child: ChildProcess, match: (message: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      if (!match(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`child exited (code ${code}, signal ${signal}) before the expected message`));
    };
    const cleanup = () => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

/** Resolves with the exit code and signal of `child` (at once if it has already exited). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}
