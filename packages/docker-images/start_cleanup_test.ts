import { Registry } from "prom-client";
import { expect, test } from "vitest";
import { startDockerImagesCleanup } from "./start_cleanup.ts";

test("startDockerImagesCleanup() schedules the hook every interval (30 min by default) and stops cleanly", async () => {
  const registry = new Registry();
  await using runner = startDockerImagesCleanup({ label: "reclaim.test=never-matches", registry }, { enabled: true });
  expect(runner.status()).toMatchObject({ hook: "docker-images", state: "scheduled", intervalMs: 1_800_000 });
  expect(runner.status().options).toEqual({ label: "reclaim.test=never-matches", interval: 1_800_000, minAge: 600_000, concurrency: 4 });

  await using custom = startDockerImagesCleanup({ label: "reclaim.test=never-matches", interval: "5m", registry }, { enabled: true });
  expect(custom.status().intervalMs).toBe(300_000);
  await custom.stop();
  expect(custom.status().state).toBe("stopped");
});
