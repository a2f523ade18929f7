import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { eventually, type LogLine, parseLogLines, Samples } from "./_daemon.ts";
import { repoPath } from "./_images.ts";

/** The built command, as `npm i -g @reclaim/cli` installs it: `reclaim` is `node dist/main.js`. */
export const RECLAIM = repoPath("packages/cli/dist/main.js");

/** How to start a `reclaim` process on this host. */
export interface ReclaimProcessOptions {
  /** Environment added to this process's (REDIS_URL, DATABASE_URL, RECLAIM_LOG_LEVEL, ...). */
  env?: Record<string, string>;
  /** Where its stdout and stderr go (a file: what it wrote survives a SIGKILL, and nothing is buffered in a pipe). */
  logPath: string;
  cwd?: string;
}

/**
 * A `reclaim start` process on this host, its output in a file. The exporter listens on a port the system chose
 * (`RECLAIM_PORT=0`), read back from the "reclaim started" line.
 */
export class ReclaimProcess {
  readonly child: ChildProcess;
  readonly logPath: string;
  readonly exited: Promise<number | null>;
  url = "";
  /** When the test sent SIGKILL (ms), if it did. */
  killedAt: number | undefined;

  constructor(child: ChildProcess, logPath: string) {
    this.child = child;
    this.logPath = logPath;
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(signal ? null : code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The JSON lines written so far (pino's), in order; a line still being written is left out. */
  logLines(): LogLine[] {
    return parseLogLines(readFileSync(this.logPath, "utf8"));
  }

  async metrics(): Promise<Samples> {
    const response = await fetch(`${this.url}/metrics`);
    if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
    return new Samples(await response.text());
  }

  async status(): Promise<{ hooks: Array<{ hook: string; state: string; history: Array<{ outcome: string }> }> }> {
    const response = await fetch(`${this.url}/status`);
    if (!response.ok) throw new Error(`GET /status: ${response.status}`);
    return (await response.json()) as { hooks: Array<{ hook: string; state: string; history: Array<{ outcome: string }> }> };
  }

  /** SIGKILL: no handler runs, locks are left to expire (Redis) or to the dead connection (Postgres). */
  async kill(): Promise<void> {
    this.killedAt = Date.now();
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /**
   * SIGTERM and the exit code (0 after a clean stop). A process still there after `timeoutMs` is SIGKILLed and the
   * call throws: a daemon that does not exit on SIGTERM is a failure, not a hung suite.
   */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
    const code = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (code !== "late") return code;
    this.child.kill("SIGKILL");
    throw new Error(`reclaim (pid ${this.pid}) was still running ${timeoutMs} ms after SIGTERM:\n${this.tail(10)}`);
  }

  /** The last lines of its output, for a failed test. */
  tail(lines = 60): string {
    return readFileSync(this.logPath, "utf8").split("\n").slice(-lines).join("\n");
  }
}

/**
 * Runs `reclaim ARGS...` (`start -c FILE`, usually) as a separate process on this host and waits until its exporter
 * answers /healthz.
 *
 * @example
 * ```ts
 * const replica = await startReclaim(["start", "-c", configPath], { logPath, env: { REDIS_URL: url } });
 * ```
 */
export async function startReclaim(args: string[], options: ReclaimProcessOptions): Promise<ReclaimProcess> {
  const fd = openSync(options.logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [RECLAIM, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, RECLAIM_PORT: "0", ...options.env },
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const replica = new ReclaimProcess(child, options.logPath);
  try {
    replica.url = await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`reclaim exited with ${child.exitCode}`);
        const started = replica.logLines().find((line) => line.msg === "reclaim started");
        if (typeof started?.exporter !== "string" || !started.exporter.startsWith("http")) throw new Error("no exporter address yet");
        const response = await fetch(`${started.exporter}/healthz`);
        if (!response.ok) throw new Error(`/healthz: ${response.status}`);
        return started.exporter;
      },
      { timeoutMs: 60_000, everyMs: 100 },
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`reclaim ${args.join(" ")} did not become healthy:\n${replica.tail()}`, { cause: err });
  }
  return replica;
}

/** Runs `reclaim ARGS...` to the end; resolves with its exit code and output. */
export function runReclaim(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RECLAIM, ...args], { cwd: options.cwd ?? process.cwd(), env: { ...process.env, ...options.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A pass of one hook on one replica, as bracketed by the runner's lock lines (times in ms). */
export interface LockHold {
  hook: string;
  pid: number;
  from: number;
  /** The release line's time; for a pass cut short by SIGKILL, the time of the kill. */
  to: number;
  killed: boolean;
}

/**
 * The intervals during which each replica held each hook's leader lock, from the runner's debug lines
 * "leader lock taken" / "releasing the leader lock" (both written while the lock is held, so each interval lies
 * inside the real one). A pass still holding the lock when its process was SIGKILLed ends at the kill.
 */
export function lockHolds(replicas: readonly ReclaimProcess[]): LockHold[] {
  const holds: LockHold[] = [];
  for (const replica of replicas) {
    const open = new Map<string, number>();
    for (const line of replica.logLines()) {
      if (typeof line.hook !== "string" || typeof line.time !== "number") continue;
      if (line.msg === "leader lock taken") open.set(line.hook, line.time);
      else if (line.msg === "releasing the leader lock" && open.has(line.hook)) {
        holds.push({ hook: line.hook, pid: replica.pid, from: open.get(line.hook)!, to: line.time, killed: false });
        open.delete(line.hook);
      }
    }
    for (const [hook, from] of open) {
      holds.push({ hook, pid: replica.pid, from, to: replica.killedAt ?? Number.POSITIVE_INFINITY, killed: replica.killedAt !== undefined });
    }
  }
  return holds.sort((a, b) => a.from - b.from);
}

/** Pairs of holds of one hook by two different replicas whose intervals intersect. */
export function overlappingHolds(holds: readonly LockHold[]): Array<[LockHold, LockHold]> {
  const overlaps: Array<[LockHold, LockHold]> = [];
  for (let i = 0; i < holds.length; i++) {
    for (let j = i + 1; j < holds.length; j++) {
      const a = holds[i]!;
      const b = holds[j]!;
      if (a.hook === b.hook && a.pid !== b.pid && b.from < a.to && a.from < b.to) overlaps.push([a, b]);
    }
  }
  return overlaps;
}
