import { testHookEnvironment } from "@reclaim/core/testing";
import { randomBytes } from "node:crypto";
import { createRunner, parseOptions, silentLogger } from "@reclaim/core";
import { Registry } from "prom-client";
import { describe, expect, test } from "vitest";
import { engineSocketPath } from "./_test_proxy.ts";
import { dockerImagesConfig, dockerImagesDefinition, embeddedDockerImagesOptions } from "./definition.ts";

const env = (vars: Record<string, string | undefined> = {}) => testHookEnvironment({ instance: "docker-images", env: vars, dataDir: "/tmp/.data" });

describe("dockerImagesDefinition", () => {
  test("fills in minAge 10m and concurrency 4, and runs every 30 min after 60 s", () => {
    expect(parseOptions("docker-images", dockerImagesConfig, { label: "cascade.managed=true" })).toEqual({ label: "cascade.managed=true", minAge: 600_000, concurrency: 4 });
    expect(dockerImagesDefinition.schedule).toEqual({ interval: 1_800_000, initialDelay: 60_000 });
    expect(dockerImagesDefinition.name).toBe("docker-images");
  });

  test("refuses a config block without a label, with a bad host, or with both socketPath and host", () => {
    expect(() => parseOptions("docker-images", dockerImagesConfig, {})).toThrow(/'label' is required/);
    expect(() => parseOptions("docker-images", dockerImagesConfig, { label: "a=b", host: "ssh://me@box" })).toThrow(/'host' must use unix:\/\/, tcp:\/\/, http:\/\/ or https:\/\//);
    expect(() => parseOptions("docker-images", dockerImagesConfig, { label: "a=b", socketPath: "docker.sock" })).toThrow(/'socketPath' must be an absolute path/);
    expect(() => parseOptions("docker-images", dockerImagesConfig, { label: "a=b", socketPath: "/s", host: "tcp://h:1" })).toThrow(/'host' give socketPath or host, not both/);
    expect(() => parseOptions("docker-images", dockerImagesConfig, { label: "a=b", interval: "1h" })).toThrow(/'interval' is not a known option/);
  });

  test("is on in the embedded default only when DOCKER_HOST is set or the socket exists, with RECLAIM_DOCKER_LABEL or reclaim.managed=true", () => {
    expect(embeddedDockerImagesOptions({ DOCKER_HOST: "tcp://10.0.0.5:2375" }, "/nonexistent.sock")).toEqual({ label: "reclaim.managed=true" });
    expect(embeddedDockerImagesOptions({ RECLAIM_DOCKER_LABEL: "cascade.managed=true" }, engineSocketPath())).toEqual({ label: "cascade.managed=true" });
    expect(embeddedDockerImagesOptions({}, "/nonexistent.sock")).toBeUndefined();
    expect(dockerImagesDefinition.embeddedDefault?.(env({ DOCKER_HOST: "unix:///var/run/docker.sock" }))).toEqual({ label: "reclaim.managed=true" });
  });

  test("creates a hook that runs one pass against the engine named by host or socketPath", async () => {
    const label = `reclaim.test=${randomBytes(6).toString("hex")}`;
    for (const where of [{ host: `unix://${engineSocketPath()}` }, { socketPath: engineSocketPath() }]) {
      const hookEnv = env();
      const hook = await dockerImagesDefinition.create(parseOptions("docker-images", dockerImagesConfig, { label, ...where }), hookEnv);
      const result = await createRunner(hook, { registry: hookEnv.registry, enabled: true }).runOnce();
      expect(result.outcome).toBe("success");
      expect(result.report).toMatchObject({ removed: 0, scanFailed: false, label });
      expect(await hookEnv.registry.getSingleMetricAsString("reclaim_docker_dangling_images")).toContain('scope="managed"} 0');
    }
  });
});
