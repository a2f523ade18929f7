import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { busyboxImage, buildDaemonImage, type Images, removeImages, repoPath } from "./_images.ts";
import { dockerHostScenario } from "./scenarios/docker_host.ts";
import { eventsFlowScenario } from "./scenarios/events_flow.ts";
import { noCdnScenario } from "./scenarios/no_cdn.ts";
import { withCdnScenario } from "./scenarios/with_cdn.ts";

// One image build for every scenario (docker/build-image.sh: the built workspace deployed into
// node:20-bookworm-slim, or into a local base built from this machine's Node when no registry is reachable),
// removed at the end. The busybox fixture image is a base image and stays. Needs `pnpm build` first; `pnpm test:e2e`
// does it. One scenario: `npx vitest run --project e2e -t "no CDN"`.
const images: Images = { daemon: "", busybox: "" };

beforeAll(async () => {
  images.busybox = await busyboxImage();
  images.daemon = await buildDaemonImage();
});

afterAll(async () => {
  if (images.daemon) await removeImages([images.daemon]);
});

describe("images", () => {
  test("every image the suite builds declares reclaim.managed=true, and so does docker/Dockerfile", async () => {
    const run = promisify(execFile);
    for (const image of [images.daemon, images.busybox, "reclaim/node-local:20"]) {
      const { stdout } = await run("docker", ["image", "inspect", "--format", "{{json .Config.Labels}}", image]).catch(() => ({ stdout: "" }));
      if (image === "reclaim/node-local:20" && stdout === "") continue; // built only where no registry is reachable
      expect(JSON.parse(stdout) as Record<string, string>, image).toMatchObject({ "reclaim.managed": "true" });
    }
    const check = await run("node", [repoPath("packages/cli/dist/main.js"), "docker", "check-labels", repoPath("docker/Dockerfile")]);
    expect(check.stdout).toContain("declare reclaim.managed=true");
  });
});

noCdnScenario(images);
withCdnScenario(images);
eventsFlowScenario(images);
dockerHostScenario(images);
