/**
 * Test fixtures on the real Docker engine: tiny images built `FROM scratch` with busybox copied in (no registry),
 * all carrying `reclaim.fixture=<runId>` so that `dispose()` finds and removes every one of them, containers first.
 * The hook's label under test is `reclaim.test=<runId>`: unique per run, so tests never touch other images.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

export interface ImageFixtures extends AsyncDisposable {
  readonly runId: string;
  /** The hook's label for this run: `reclaim.test=<runId>`. */
  readonly label: string;
  /** Builds `tag` from a Dockerfile with a unique payload; returns the image id. */
  build(tag: string, options: { managed: boolean }): Promise<string>;
  /** Builds a tag twice with different content: the first image is left dangling. Returns its id. */
  danglingByRetag(options: { managed: boolean }): Promise<{ dangling: string; tagged: string; tag: string }>;
  /**
   * Builds `<registry>/...:latest`, pushes it to `registry` (see `_test_registry.ts`), then builds the tag again: the
   * first image is left with no tag but a registry digest (`RepoDigests`), as after a pull by digest.
   */
  danglingWithDigest(registry: string, options: { managed: boolean }): Promise<{ dangling: string; tagged: string; digest: string }>;
  /** `docker import` of a one-file tarball without a tag: a dangling image in one fast call. Returns its id. */
  danglingByImport(options: { managed: boolean }): Promise<string>;
  /** Creates (does not start) a container from an image: the image is now in use by a stopped container. */
  createContainer(image: string): Promise<string>;
  exists(image: string): Promise<boolean>;
  /** Ids of the dangling images that carry this run's fixture label. */
  danglingFixtures(): Promise<string[]>;
}

export async function imageFixtures(): Promise<ImageFixtures> {
  const runId = randomBytes(6).toString("hex");
  const fixtureLabel = `reclaim.fixture=${runId}`;
  const label = `reclaim.test=${runId}`;
  const context = await mkdtemp(join(tmpdir(), "reclaim-docker-"));
  await copyFile("/bin/busybox", join(context, "busybox"));
  const containers: string[] = [];
  let tags = 0;

  const labelsFor = (managed: boolean): string[] => (managed ? [fixtureLabel, label] : [fixtureLabel]);

  const build = async (tag: string, { managed }: { managed: boolean }): Promise<string> => {
    await writeFile(join(context, "payload"), randomBytes(32).toString("hex"));
    const labels = labelsFor(managed).map((l) => `LABEL ${l}`).join("\n");
    await writeFile(join(context, "Dockerfile"), `FROM scratch\nCOPY busybox /bin/busybox\nCOPY payload /payload\n${labels}\nCMD ["/bin/busybox", "true"]\n`);
    // Legacy builder: the engine here has no buildx; -q prints only the image id.
    return docker("build", "-q", "-t", tag, context);
  };

  return {
    runId,
    label,
    build,
    async danglingByRetag(options) {
      const tag = `reclaim-test-${runId}-${++tags}:latest`;
      const dangling = await build(tag, options);
      const tagged = await build(tag, options);
      return { dangling, tagged, tag };
    },
    async danglingWithDigest(registry, options) {
      const tag = `${registry}/reclaim-test-${runId}-${++tags}:latest`;
      const dangling = await build(tag, options);
      await docker("push", tag);
      const tagged = await build(tag, options);
      const digest = await docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", dangling);
      return { dangling, tagged, digest };
    },
    async danglingByImport({ managed }) {
      const dir = await mkdtemp(join(tmpdir(), "reclaim-import-"));
      try {
        await writeFile(join(dir, "payload"), randomBytes(32).toString("hex"));
        const changes = labelsFor(managed).flatMap((l) => ["--change", `LABEL ${l}`]);
        return await new Promise<string>((resolve, reject) => {
          const tar = spawn("tar", ["-C", dir, "-cf", "-", "payload"], { stdio: ["ignore", "pipe", "inherit"] });
          const imp = spawn("docker", ["import", ...changes, "-"], { stdio: ["pipe", "pipe", "pipe"] });
          tar.stdout.pipe(imp.stdin);
          let out = "";
          let err = "";
          imp.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
          imp.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
          imp.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`docker import failed: ${err}`))));
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async createContainer(image) {
      const id = await docker("create", "--label", fixtureLabel, image, "/bin/busybox", "true");
      containers.push(id);
      return id;
    },
    async exists(image) {
      try {
        await docker("image", "inspect", "--format", "{{.Id}}", image);
        return true;
      } catch {
        return false;
      }
    },
    async danglingFixtures() {
      const out = await docker("images", "-q", "--no-trunc", "--filter", "dangling=true", "--filter", `label=${fixtureLabel}`);
      return out ? out.split("\n") : [];
    },
    async [Symbol.asyncDispose]() {
      const labelled = await docker("ps", "-aq", "--filter", `label=${fixtureLabel}`).catch(() => "");
      const all = [...new Set([...containers, ...labelled.split("\n").filter(Boolean)])];
      if (all.length > 0) await docker("rm", "-f", ...all).catch(() => "");
      const images = await docker("images", "-aq", "--no-trunc", "--filter", `label=${fixtureLabel}`).catch(() => "");
      const ids = [...new Set(images.split("\n").filter(Boolean))];
      if (ids.length > 0) await docker("rmi", "-f", ...ids).catch(() => "");
      await rm(context, { recursive: true, force: true });
    },
  };
}
