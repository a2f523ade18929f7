import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** pino level: `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`. @default "info" */
  level?: string;
  /** Where JSON lines go (a file descriptor or a stream). @default 1 (stdout) */
  destination?: number | NodeJS.WritableStream;
}

/**
 * Creates the structured JSON logger every reclaim package writes to (pino, `err` key for errors).
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "debug" });
 * log.child({ hook: "disk" }).info({ removed: 3 }, "swept");
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? 1;
  const stream = typeof destination === "number" ? pino.destination({ dest: destination, sync: true }) : destination;
  return pino({ level: options.level ?? "info", base: { name: "reclaim" } }, stream as pino.DestinationStream);
}

/** A logger that writes nothing: the default for hooks created without one. */
export const silentLogger: Logger = pino({ level: "silent" });
