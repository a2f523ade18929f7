import { isatty } from "node:tty";
import { createLogger, type Logger } from "@reclaim/core";
import PinoPretty from "pino-pretty";

/**
 * The command's logger: JSON lines, or pino-pretty's readable lines when they go to a terminal (`fd` is a TTY).
 * A stream destination (tests, embedding) always gets JSON.
 *
 * @example
 * ```ts
 * const logger = commandLogger("info", io.logDestination ?? 1);
 * ```
 */
export function commandLogger(level: string, destination: number | NodeJS.WritableStream): Logger {
  if (typeof destination === "number" && isatty(destination)) {
    const pretty = PinoPretty({ destination, sync: true, colorize: PinoPretty.isColorSupported, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,name" });
    return createLogger({ level, destination: pretty });
  }
  return createLogger({ level, destination });
}
