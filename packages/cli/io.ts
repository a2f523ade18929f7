import { resolve } from "node:path";

/** The command's surroundings: injectable so tests run `main()` in-process. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Where JSON log lines go (fd or stream). @default 1 for `start`, 2 for one-shot verbs */
  logDestination?: number | NodeJS.WritableStream;
  /** Ends `reclaim start` like SIGTERM does (tests). */
  signal?: AbortSignal;
}

/** The real process: stdout, stderr, environment, working directory. */
export function processIo(): Io {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** The embedded default's data folder: `RECLAIM_DATA_DIR` or `./.data`, absolute. */
export function dataDirOf(io: Io): string {
  return resolve(io.cwd, io.env.RECLAIM_DATA_DIR || ".data");
}

/** reclaim's version, shown by `--version` and `/status`. */
export const VERSION = "0.1.0";
