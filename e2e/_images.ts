import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("..", import.meta.url));

// testcontainers' settings for an engine with local images only (set defensively: `pnpm test:e2e` sets them too).
process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "127.0.0.1";

/** A fresh tag in the `reclaim/e2e` repository, unique to this run (the suite removes what it tags). */
export function uniqueTag(what: string): string {
  return `reclaim/e2e-${what}:${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

async function script(path: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run("bash", [path, ...args], { cwd: REPO, maxBuffer: 16 << 20 });
    return stdout.trim();
  } catch (err) {
    const { stderr, stdout } = err as { stderr?: string; stdout?: string };
    throw new Error(`bash ${path} ${args.join(" ")} failed:\n${stderr ?? ""}${stdout ?? ""}`, { cause: err });
  }
}

/**
 * Builds the reclaim daemon image (docker/build-image.sh: node:20-bookworm-slim, or the local base when no
 * registry is reachable) under a tag unique to this run. Needs `pnpm build` first.
 *
 * @example
 * ```ts
 * const image = await buildDaemonImage();
 * afterAll(() => removeImages([image]));
 * ```
 */
export async function buildDaemonImage(): Promise<string> {
  return script("docker/build-image.sh", [uniqueTag("daemon")]);
}

/**
 * The tiny busybox image (FROM scratch + /bin/busybox) used for fixtures: the CDN's httpd, dangling images.
 * It is a base image like the ones a registry would give, so it stays between runs (rebuilt when busybox changes).
 *
 * @example
 * ```ts
 * const busybox = await busyboxImage(); // "reclaim/busybox-local:1"
 * ```
 */
export async function busyboxImage(): Promise<string> {
  return script("docker/build-base-image.sh", ["busybox"]);
}

/**
 * Removes images by id or tag; ones already gone are fine.
 *
 * @example
 * ```ts
 * await removeImages(["reclaim/e2e-daemon:abc"]);
 * ```
 */
export async function removeImages(images: readonly string[]): Promise<void> {
  for (const image of images) {
    await run("docker", ["image", "rm", "--force", image]).catch((err: { stderr?: string }) => {
      if (!/No such image/i.test(err.stderr ?? "")) throw err;
    });
  }
}

/** Absolute path of a file in the repository. */
export function repoPath(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

/** The images a run uses, filled in by the suite's beforeAll. */
export interface Images {
  /** The reclaim daemon image built for this run. */
  daemon: string;
  /** The busybox fixture image. */
  busybox: string;
}
