import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { type Daemon, dumpLogsIfFailed, eventually, startDaemon } from "../_daemon.ts";
import type { Images } from "../_images.ts";

// The dangling-image incident (../shared/seeds/dangling-image-cleanup-pr.txt), run from the image: the daemon in
// a container, given the engine's socket, removes dangling images that carry its label and nothing else. The label
// is unique to this run so that no other image on this engine can ever match it.
const docker = new Docker(process.env.DOCKER_HOST?.startsWith("unix://") ? { socketPath: process.env.DOCKER_HOST.slice(7) } : undefined);
const socketPath = process.env.DOCKER_HOST?.startsWith("unix://") ? process.env.DOCKER_HOST.slice(7) : "/var/run/docker.sock";

/**
 * `docker build` of a Dockerfile given as text (no context); resolves to the image id. Retried: on an engine shared
 * with other test suites, a `docker image prune` elsewhere can remove the legacy builder's dangling intermediate
 * image mid-build ("unable to find image sha256:...").
 */
async function build(dockerfile: string, tag?: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await buildOnce(dockerfile, tag);
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

function buildOnce(dockerfile: string, tag?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", ["build", "-q", ...(tag ? ["-t", tag] : []), "-"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`docker build failed: ${err}`))));
    child.stdin.end(dockerfile);
  });
}

async function exists(id: string): Promise<boolean> {
  try {
    await docker.getImage(id).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** Scenario "Docker host": labelled dangling images go, everything else stays. */
export function dockerHostScenario(images: Images): void {
  describe("Docker host: the daemon prunes labelled dangling images through the engine's socket", () => {
    const run = randomBytes(4).toString("hex");
    const label = `reclaim.e2e.run=${run}`;
    const snapshot = `reclaim/e2e-snapshot-${run}:latest`;
    const made: Record<string, string> = {};
    let holder: Docker.Container | undefined;
    let daemon: Daemon | undefined;

    beforeAll(async () => {
      // FROM scratch with labels only: tiny, and distinct per fixture through the labels.
      const image = (labels: string) => `FROM scratch\nLABEL ${labels}\n`;
      made.labelled = await build(image(`${label} reclaim.e2e.fixture=labelled`));
      // The incident's re-tag: v1 of a snapshot tag becomes dangling when v2 takes the tag.
      made.retagged = await build(image(`${label} reclaim.e2e.fixture=snapshot-v1`), snapshot);
      made.current = await build(image(`${label} reclaim.e2e.fixture=snapshot-v2`), snapshot);
      made.unlabelled = await build(image(`reclaim.e2e.unmanaged=${run}`));
      made.otherValue = await build(image(`reclaim.e2e.run=other-${run}`));
      made.inUse = await build(image(`${label} reclaim.e2e.fixture=in-use`));
      holder = await docker.createContainer({ Image: made.inUse, Cmd: ["/nothing"], Labels: { "reclaim.e2e.run": run } });
      for (const [name, id] of Object.entries(made)) expect(await exists(id), name).toBe(true);

      daemon = await startDaemon({
        image: images.daemon,
        bindMounts: [{ source: socketPath, target: "/var/run/docker.sock", mode: "rw" }],
        config: {
          hooks: {
            "docker-images": { label, minAge: 0, socketPath: "/var/run/docker.sock", interval: "2s", initialDelay: "1s" },
          },
        },
      });
    });
    afterEach((ctx) => dumpLogsIfFailed(ctx.task.result?.state, daemon));
    afterAll(async () => {
      await daemon?.stop();
      await holder?.remove({ force: true }).catch(() => undefined);
      for (const id of [snapshot, ...Object.values(made)]) {
        await docker
          .getImage(id)
          .remove({ force: true })
          .catch(() => undefined);
      }
    });

    test("removes labelled dangling images and leaves unlabelled, other-valued, tagged and in-use ones", async () => {
      await eventually(async () => {
        expect(await exists(made.labelled!)).toBe(false);
        expect(await exists(made.retagged!)).toBe(false);
      });
      // One comparison of everything, so that a failure shows the whole picture.
      const state: Record<string, boolean> = {};
      for (const [name, id] of Object.entries(made)) state[name] = await exists(id);
      state.daemonImage = await exists(images.daemon); // carries reclaim.managed=true, not this run's label
      expect(state).toEqual({
        labelled: false, // dangling + label: removed
        retagged: false, // the snapshot's previous digest: removed
        current: true, // tagged
        unlabelled: true, // dangling without the label
        otherValue: true, // dangling with another value of the label key
        inUse: true, // dangling + label, but a container uses it (409)
        daemonImage: true,
      });

      // The images go during a pass; the runner counts them when the pass ends: wait for that.
      await eventually(async () => {
        const metrics = await daemon!.metrics();
        const counts = {
          removed: metrics.sum("reclaim_docker_image_removals_total", { outcome: "removed" }),
          inUse: Math.min(1, metrics.sum("reclaim_docker_image_removals_total", { outcome: "in_use" })),
          error: metrics.sum("reclaim_docker_image_removals_total", { outcome: "error" }),
          removedByRunner: metrics.sum("reclaim_removed_total", { hook: "docker-images" }),
          failedPasses: metrics.sum("reclaim_hook_runs_total", { hook: "docker-images", outcome: "failure" }),
        };
        expect(counts).toEqual({ removed: 2, inUse: 1, error: 0, removedByRunner: 2, failedPasses: 0 });
      });
    });
  });
}
