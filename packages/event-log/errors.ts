/** Error codes raised by `@reclaim/event-log` (besides core's `RECLAIM_ERR_INVALID_OPTION`). */
export type EventLogErrorCode =
  /** Appenders did not step aside within `drainTimeout` (a writer process stopped while writing?). Nothing was changed. */
  | "RECLAIM_ERR_EVENT_LOG_BUSY"
  /** The log was replaced or truncated by someone else during the pass (e.g. logrotate). Nothing was changed. */
  | "RECLAIM_ERR_EVENT_LOG_REPLACED"
  /** An append waited `pauseTimeout` for a trimmer's pause to end (a trimmer stopped mid-swap?). That batch was not written. */
  | "RECLAIM_ERR_EVENT_LOG_PAUSED";

/**
 * A failure of the event-log trimmer or appender that callers may want to branch on. The log is left exactly as it
 * was: the next pass retries, and a failed append can be retried.
 *
 * @example
 * ```ts
 * try {
 *   await trimToLastLines("/data/events.jsonl");
 * } catch (err) {
 *   if (err instanceof EventLogError && err.code === "RECLAIM_ERR_EVENT_LOG_BUSY") console.warn("retry later");
 * }
 * ```
 */
export class EventLogError extends Error {
  readonly code: EventLogErrorCode;
  constructor(code: EventLogErrorCode, message: string) {
    super(message);
    this.name = "EventLogError";
    this.code = code;
  }
}
