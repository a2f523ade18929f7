/** Error codes raised by reclaim packages. Every code is listed in the package README. */
export type ReclaimErrorCode =
  | "RECLAIM_ERR_INVALID_OPTION"
  | "RECLAIM_ERR_INVALID_DURATION"
  | "RECLAIM_ERR_INVALID_SIZE"
  | "RECLAIM_ERR_CONFIG"
  | "RECLAIM_ERR_USAGE"
  | "RECLAIM_ERR_ABORTED"
  | "RECLAIM_ERR_STORE_UNAVAILABLE";

/**
 * A user mistake in options or configuration: the message names the field, the reason and the value.
 * `TypeError` for a wrong type, see {@link OptionRangeError} for a value out of range.
 *
 * @example
 * ```ts
 * throw new OptionTypeError("disk", "root", "must be a string", 42);
 * // Cannot create disk hook as 'root' must be a string: current value is 42
 * ```
 */
export class OptionTypeError extends TypeError {
  readonly code: ReclaimErrorCode = "RECLAIM_ERR_INVALID_OPTION";
  readonly field: string;
  constructor(hook: string, field: string, reason: string, value?: unknown) {
    super(optionMessage(hook, field, reason, value));
    this.name = "OptionTypeError";
    this.field = field;
  }
}

/**
 * An option whose type is right but whose value is out of range.
 *
 * @example
 * ```ts
 * throw new OptionRangeError("disk", "pressure.high", "must be between 0 and 1", 1.7);
 * ```
 */
export class OptionRangeError extends RangeError {
  readonly code: ReclaimErrorCode = "RECLAIM_ERR_INVALID_OPTION";
  readonly field: string;
  constructor(hook: string, field: string, reason: string, value?: unknown) {
    super(optionMessage(hook, field, reason, value));
    this.name = "OptionRangeError";
    this.field = field;
  }
}

/**
 * A mistake of the person running `reclaim` (bad argument, bad config): printed as one line, exit code 2, no stack
 * trace, nothing touched. Hook packages throw it from the verbs they contribute.
 *
 * @example
 * ```ts
 * throw new UsageError("unknown hook 'dsik': known hooks are event-log, disk");
 * ```
 */
export class UsageError extends Error {
  readonly code: ReclaimErrorCode = "RECLAIM_ERR_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A Redis or Postgres that cannot be reached or refuses the credentials. One line, the URL without its password;
 * inside a pass it fails that pass (the next pass tries again).
 *
 * @example
 * ```ts
 * throw new StoreUnavailableError("Redis", "redis://:***@cache:6379", err);
 * // Redis at redis://:***@cache:6379 is unavailable: connect ECONNREFUSED 10.0.0.5:6379
 * ```
 */
export class StoreUnavailableError extends Error {
  readonly code: ReclaimErrorCode = "RECLAIM_ERR_STORE_UNAVAILABLE";
  constructor(store: "Redis" | "Postgres", shownUrl: string, cause: Error) {
    super(`${store} at ${shownUrl} is unavailable: ${oneLine(cause)}`, { cause });
    this.name = "StoreUnavailableError";
  }
}

function oneLine(err: Error): string {
  const inner = err instanceof AggregateError && err.errors[0] instanceof Error ? err.errors[0] : err;
  return (inner.message || inner.name || String(inner)).split("\n")[0]!;
}

/** Thrown inside a pass when its `AbortSignal` fires; the runner records the pass as `aborted`. */
export class AbortedError extends Error {
  readonly code: ReclaimErrorCode = "RECLAIM_ERR_ABORTED";
  constructor(message = "The pass was aborted") {
    super(message);
    this.name = "AbortedError";
  }
}

/**
 * Throws {@link AbortedError} when the signal has fired (the runner's own reason — stopping, leader lock lost — when it
 * gave one). Call it between units of work.
 *
 * @example
 * ```ts
 * for (const file of files) { throwIfAborted(ctx.signal); await unlink(file); }
 * ```
 */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof AbortedError ? signal.reason : new AbortedError();
}

/** True for an error carrying a reclaim user-mistake code (bad option, duration, size or config). */
export function isUserError(err: unknown): err is Error & { code: ReclaimErrorCode } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("RECLAIM_ERR_") && code !== "RECLAIM_ERR_ABORTED" && code !== "RECLAIM_ERR_STORE_UNAVAILABLE";
}

function optionMessage(hook: string, field: string, reason: string, value: unknown): string {
  const shown = value === undefined ? "" : `: current value is ${showValue(value)}`;
  return `Cannot create ${hook} hook as '${field}' ${reason}${shown}`;
}

function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
