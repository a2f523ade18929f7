// Test children only (see _test_ts_hooks.mjs): the parts of @reclaim/core that the trimmer and appender use at run
// time, without the barrel's logger, metrics, runner and zod, so a forked child starts in a fraction of the time.
export * from "../core/atomic_write.ts";
export * from "../core/errors.ts";
export * from "../core/process_identity.ts";
export * from "../core/temp_file.ts";
