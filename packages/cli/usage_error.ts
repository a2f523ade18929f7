/**
 * A mistake of the person running `reclaim` (bad argument, bad config): printed as one line, exit code 2,
 * no stack trace, nothing touched.
 *
 * @example
 * ```ts
 * throw new UsageError("unknown hook 'dsik': known hooks are event-log, disk");
 * ```
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
