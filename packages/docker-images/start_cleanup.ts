import { createRunner, type Runner, type RunnerOptions } from "@reclaim/core";
import { createDockerImagesHook, type DockerImagesHookOptions, type DockerImagesReport } from "./prune_images.ts";

/** Runner settings for {@link startDockerImagesCleanup}; `interval` comes from the hook options. */
export type DockerImagesRunnerOptions = Omit<RunnerOptions, "interval" | "registry">;

/**
 * The whole loop in one call, for a service that embeds it: creates the hook, wraps it in a runner that passes every
 * `interval` (30 min by default; first pass after `initialDelay`, 60 s by default), starts it and returns the runner.
 * Call `stop()` (or `await using`) on shutdown.
 *
 * @example
 * ```ts
 * const cleanup = startDockerImagesCleanup({ label: "cascade.managed=true", registry, onError: (err) => Sentry.captureException(err) }, { logger });
 * process.on("SIGTERM", () => void cleanup.stop());
 * ```
 */
export function startDockerImagesCleanup(options: DockerImagesHookOptions, runnerOptions: DockerImagesRunnerOptions = {}): Runner<DockerImagesReport> {
  const hook = createDockerImagesHook(options);
  const runner = createRunner(hook, { ...runnerOptions, interval: hook.options.interval, ...(options.registry ? { registry: options.registry } : {}) });
  runner.start();
  return runner;
}
