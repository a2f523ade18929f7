import { Writable } from "node:stream";
import { createLogger, createRunner, OptionRangeError, OptionTypeError } from "@reclaim/core";
import { memorySpans } from "@reclaim/core/testing";
import Dockerode from "dockerode";
import { Registry } from "prom-client";
import { describe, expect, test } from "vitest";
import { imageFixtures, type ImageFixtures } from "./_test_images.ts";
import { dockerProxy, engineSocketPath } from "./_test_proxy.ts";
import { testRegistry } from "./_test_registry.ts";
import { createDockerImagesHook, type DockerImagesErrorContext, type DockerImagesHookOptions } from "./prune_images.ts";

const docker = (): Dockerode => new Dockerode({ socketPath: engineSocketPath() });

/** A runner around a fresh hook whose clock is an hour ahead, so that fixtures are older than minAge. */
function setup(fx: ImageFixtures, options: Partial<DockerImagesHookOptions> & { dryRun?: boolean; clockAhead?: number } = {}) {
  const { dryRun = false, clockAhead = 3_600_000, ...hookOptions } = options;
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: "debug",
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  });
  const hook = createDockerImagesHook({ docker: docker(), label: fx.label, registry, ...hookOptions });
  const runner = createRunner(hook, { registry, logger, dryRun, enabled: true, now: () => Date.now() + clockAhead });
  return { hook, runner, registry, lines };
}

async function metric(registry: Registry, name: string): Promise<string> {
  return registry.getSingleMetricAsString(name);
}

describe("createDockerImagesHook()", () => {
  test("removes labelled dangling images and leaves unlabelled dangling, tagged labelled and in-use images alone", async () => {
    await using fx = await imageFixtures();
    const retagged = await fx.danglingByRetag({ managed: true });
    const imported = await fx.danglingByImport({ managed: true });
    const unlabelled = await fx.danglingByRetag({ managed: false });
    const inUse = await fx.danglingByImport({ managed: true });
    await fx.createContainer(inUse);
    const { runner, registry } = setup(fx);

    const result = await runner.runOnce();

    expect(result.outcome).toBe("success");
    expect(await fx.exists(retagged.dangling)).toBe(false);
    expect(await fx.exists(imported)).toBe(false);
    expect(await fx.exists(retagged.tagged)).toBe(true);
    expect(await fx.exists(unlabelled.dangling)).toBe(true);
    expect(await fx.exists(inUse)).toBe(true);
    expect(result.report).toMatchObject({ removed: 2, inUse: 1, gone: 0, errors: 0, scanFailed: false, label: fx.label });
    expect(result.report?.images.map((i) => i.id).sort()).toEqual([retagged.dangling, imported].sort());
    expect(result.report?.reclaimedBytes).toBeGreaterThan(0);
    const removals = await metric(registry, "reclaim_docker_image_removals_total");
    expect(removals).toContain('reclaim_docker_image_removals_total{hook="docker-images",outcome="removed"} 2');
    expect(removals).toContain('reclaim_docker_image_removals_total{hook="docker-images",outcome="in_use"} 1');
    expect(await metric(registry, "reclaim_removed_total")).toContain('reclaim_removed_total{hook="docker-images",kind="image"} 2');
  });

  test("sends exactly dangling=true AND the label as the scan filter, and removes with force=false", async () => {
    await using fx = await imageFixtures();
    const dangling = await fx.danglingByImport({ managed: true });
    await using proxy = await dockerProxy();
    const { runner } = setup(fx, { docker: { socketPath: proxy.socketPath } });

    await runner.runOnce();

    const lists = proxy.requests.filter((r) => r.method === "GET" && r.path === "/images/json");
    expect(JSON.parse(lists[0]!.query.get("filters")!)).toEqual({ dangling: ["true"], label: [fx.label] });
    expect(lists[0]!.query.get("all")).toBeNull();
    const deletes = proxy.requests.filter((r) => r.method === "DELETE");
    expect(deletes.map((r) => r.path)).toEqual([`/images/${dangling}`]);
    expect(Object.fromEntries(deletes[0]!.query)).toEqual({ force: "false", noprune: "false" });
    // The census that feeds the scope gauges only reads.
    expect(JSON.parse(lists[1]!.query.get("filters")!)).toEqual({ dangling: ["true"] });
    expect(proxy.requests.every((r) => r.method === "GET" || r.path === `/images/${dangling}`)).toBe(true);
  });

  test("never removes a tagged or unlabelled image even when the engine lists it as a managed dangling image", async () => {
    await using fx = await imageFixtures();
    const tagged = await fx.danglingByRetag({ managed: true });
    const unlabelled = await fx.danglingByImport({ managed: false });
    const foreign = (await docker().listImages({ filters: { label: [`reclaim.fixture=${fx.runId}`] } })).filter((i) => i.Id === tagged.tagged || i.Id === unlabelled);
    expect(foreign).toHaveLength(2);
    await using proxy = await dockerProxy({
      // An engine (or a proxy in front of it) that ignores the filter.
      rewrite: (req, body) => (req.path === "/images/json" && req.query.get("filters")?.includes("label") ? [...(body as object[]), ...foreign] : undefined),
    });
    const { runner, lines } = setup(fx, { docker: { socketPath: proxy.socketPath } });

    const result = await runner.runOnce();

    expect(await fx.exists(tagged.tagged)).toBe(true);
    expect(await fx.exists(unlabelled)).toBe(true);
    expect(proxy.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).not.toContain(`/images/${unlabelled}`);
    expect(proxy.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).not.toContain(`/images/${tagged.tagged}`);
    expect(result.report?.images.map((i) => i.id)).toContain(tagged.dangling);
    expect(lines.filter((l) => l.msg === "engine listed an image outside the filter; skipped")).toHaveLength(2);
  });

  test("keeps an untagged image with a registry digest, which the engine lists as dangling (pushed, then the tag moved)", async () => {
    await using fx = await imageFixtures();
    await using registry = await testRegistry();
    const pushed = await fx.danglingWithDigest(registry.host, { managed: true });
    const plain = await fx.danglingByImport({ managed: true });
    // The engine itself (Docker 20.10) lists it under the managed filter: the check must not rely on the filter.
    const listed = await docker().listImages({ filters: { dangling: ["true"], label: [fx.label] } });
    expect(listed.find((i) => i.Id === pushed.dangling)).toMatchObject({ RepoTags: null, RepoDigests: [pushed.digest] });
    await using proxy = await dockerProxy();
    const { runner, lines } = setup(fx, { docker: { socketPath: proxy.socketPath } });

    const result = await runner.runOnce();

    expect(await fx.exists(pushed.dangling)).toBe(true);
    expect(await fx.exists(pushed.tagged)).toBe(true);
    expect(await fx.exists(plain)).toBe(false);
    expect(proxy.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([`/images/${plain}`]);
    expect(result.report).toMatchObject({ removed: 1, withDigest: 1, errors: 0 });
    expect(lines.filter((l) => l.msg === "dangling image has a registry digest; kept")).toHaveLength(1);
  });

  test("never removes a listed entry with a RepoDigest and no tag (pulled by digest), placeholders aside", async () => {
    await using fx = await imageFixtures();
    const pinned = await fx.danglingByImport({ managed: true });
    const placeholder = await fx.danglingByImport({ managed: true });
    const digest = `registry.example/app@sha256:${"ab".repeat(32)}`;
    await using proxy = await dockerProxy({
      // Play an image pulled by digest: no tag, a RepoDigest (and the 20.10 placeholder next to it).
      rewrite: (req, body) =>
        req.path === "/images/json" && req.query.get("filters")?.includes("label")
          ? (body as Dockerode.ImageInfo[]).map((i) =>
              i.Id === pinned ? { ...i, RepoTags: [], RepoDigests: ["<none>@<none>", digest] } : i.Id === placeholder ? { ...i, RepoTags: ["<none>:<none>"], RepoDigests: ["<none>@<none>"] } : i,
            )
          : undefined,
    });
    const { runner } = setup(fx, { docker: { socketPath: proxy.socketPath } });

    const result = await runner.runOnce();

    expect(await fx.exists(pinned)).toBe(true);
    expect(proxy.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([`/images/${placeholder}`]);
    expect(result.report).toMatchObject({ removed: 1, withDigest: 1 });
  });

  test("spares dangling images younger than minAge (10 minutes by default)", async () => {
    await using fx = await imageFixtures();
    const fresh = await fx.danglingByImport({ managed: true });
    const { runner } = setup(fx, { clockAhead: 0 });

    const result = await runner.runOnce();

    expect(await fx.exists(fresh)).toBe(true);
    expect(result.report?.tooYoung).toBeGreaterThanOrEqual(1);
    expect(result.report?.images.map((i) => i.id)).not.toContain(fresh);

    const later = await setup(fx, { clockAhead: 11 * 60_000 }).runner.runOnce();
    expect(later.report?.images.map((i) => i.id)).toContain(fresh);
    expect(await fx.exists(fresh)).toBe(false);
  });

  test("in a dry run lists what would be removed and removes nothing", async () => {
    await using fx = await imageFixtures();
    const dangling = await fx.danglingByImport({ managed: true });
    const { runner, registry, lines } = setup(fx, { dryRun: true });

    const result = await runner.runOnce();

    expect(await fx.exists(dangling)).toBe(true);
    expect(result.report?.images.map((i) => i.id)).toContain(dangling);
    expect(result.report?.removed).toBe(result.report?.images.length);
    expect(lines.some((l) => l.msg === "would remove dangling image (dry run)" && l.level === 30)).toBe(true);
    expect(await metric(registry, "reclaim_docker_image_removals_total")).not.toContain("outcome=");
    await setup(fx).runner.runOnce();
    expect(await fx.exists(dangling)).toBe(false);
  });

  test("sets the scope gauges so that dangling images without the label are visible", async () => {
    await using fx = await imageFixtures();
    const unlabelled = await fx.danglingByRetag({ managed: false });
    const inUse = await fx.danglingByImport({ managed: true });
    await fx.createContainer(inUse);
    const { runner, registry, hook } = setup(fx);

    await runner.runOnce();

    const images = await metric(registry, "reclaim_docker_dangling_images");
    expect(images).toContain('reclaim_docker_dangling_images{hook="docker-images",scope="managed"} 1');
    const unmanaged = Number(/scope="unmanaged"} (\d+)/.exec(images)?.[1]);
    expect(unmanaged).toBeGreaterThanOrEqual(1);
    expect(await metric(registry, "reclaim_docker_dangling_bytes")).toMatch(/reclaim_docker_dangling_bytes\{hook="docker-images",scope="unmanaged"} [1-9]/);
    expect(await fx.exists(unlabelled.dangling)).toBe(true);
    expect(hook.status?.()).toMatchObject({ label: fx.label, dangling: { managed: { images: 1 } } });
  });

  test("two instances pruning the same images at once report no errors", async () => {
    await using fx = await imageFixtures();
    const ids = await Promise.all(Array.from({ length: 16 }, () => fx.danglingByImport({ managed: true })));
    const errors: unknown[] = [];
    const a = setup(fx, { onError: (err) => errors.push(err) });
    const b = setup(fx, { onError: (err) => errors.push(err) });

    const [ra, rb] = await Promise.all([a.runner.runOnce(), b.runner.runOnce()]);

    expect(errors).toEqual([]);
    expect([ra.outcome, rb.outcome]).toEqual(["success", "success"]);
    expect(ra.report!.errors + rb.report!.errors).toBe(0);
    for (const id of ids) expect(await fx.exists(id)).toBe(false);
    const removedIds = [...ra.report!.images, ...rb.report!.images].map((i) => i.id);
    for (const id of ids) expect(removedIds.filter((r) => r === id)).toHaveLength(1);
    expect(await metric(a.registry, "reclaim_docker_image_removals_total")).not.toContain('outcome="error"');
  });

  test("reports other removal errors to onError and a warning, and the pass goes on", async () => {
    await using fx = await imageFixtures();
    const failing = await fx.danglingByImport({ managed: true });
    const other = await fx.danglingByImport({ managed: true });
    await using proxy = await dockerProxy({ fail: (req) => (req.method === "DELETE" && req.path === `/images/${failing}` ? 500 : undefined) });
    const seen: Array<{ err: Error; context: DockerImagesErrorContext }> = [];
    const { runner, registry, lines } = setup(fx, {
      docker: { socketPath: proxy.socketPath },
      onError: (err, context) => {
        seen.push({ err, context });
        throw new Error("a faulty callback");
      },
    });

    const result = await runner.runOnce();

    expect(result.outcome).toBe("success");
    expect(result.report).toMatchObject({ errors: 1 });
    expect(await fx.exists(failing)).toBe(true);
    expect(await fx.exists(other)).toBe(false);
    expect(seen.map((s) => s.context)).toEqual([{ stage: "remove", imageId: failing, label: fx.label }]);
    expect(await metric(registry, "reclaim_docker_image_removals_total")).toContain('reclaim_docker_image_removals_total{hook="docker-images",outcome="error"} 1');
    expect(lines.some((l) => l.level === 40 && l.msg === "could not remove dangling image; pass continues")).toBe(true);
    expect(lines.some((l) => l.level === 40 && l.msg === "onError callback threw; ignored")).toBe(true);
  });

  test("logs and counts a failed image list and never throws", async () => {
    await using fx = await imageFixtures();
    const seen: DockerImagesErrorContext[] = [];
    const { runner, registry, lines } = setup(fx, { docker: { socketPath: "/nonexistent/docker.sock" }, onError: (_err, context) => seen.push(context) });

    const result = await runner.runOnce();

    expect(result.outcome).toBe("success");
    expect(result.report).toMatchObject({ removed: 0, scanFailed: true });
    expect(await metric(registry, "reclaim_docker_scan_failures_total")).toMatch(/reclaim_docker_scan_failures_total{hook="docker-images"} [12]\b/);
    expect(seen[0]).toEqual({ stage: "scan", label: fx.label });
    expect(lines.some((l) => l.level === 50 && l.msg === "could not list dangling images; nothing removed this pass")).toBe(true);
  });

  test("writes the summary line only when something was removed", async () => {
    await using fx = await imageFixtures();
    const quiet = setup(fx, { label: `reclaim.test=${fx.runId}-nothing` });
    await quiet.runner.runOnce();
    expect(quiet.lines.filter((l) => l.hook === "docker-images" && (l.level as number) >= 30)).toEqual([]);

    await fx.danglingByImport({ managed: true });
    const busy = setup(fx);
    await busy.runner.runOnce();
    const summary = busy.lines.find((l) => l.msg === "removed dangling images");
    expect(summary).toMatchObject({ level: 30, removed: 1, label: fx.label });
    expect(summary?.reclaimedBytes).toBeGreaterThan(0);
  });

  test("names its span 'prune images' and records what it found on it", async () => {
    await using fx = await imageFixtures();
    await fx.danglingByImport({ managed: true });
    const { tracer, spans } = memorySpans();
    const hook = createDockerImagesHook({ docker: docker(), label: fx.label });
    await createRunner(hook, { tracer, enabled: true, now: () => Date.now() + 3_600_000 }).runOnce();

    const [span] = await spans();
    expect(span?.name).toBe("prune images");
    expect(span?.attributes).toMatchObject({ "reclaim.hook": "docker-images", "reclaim.docker.label": fx.label, "reclaim.removed": 1, "reclaim.docker.dangling_managed": 0 });
  });

  test("throws at creation on a missing or malformed label and on bad numbers, naming the field", () => {
    expect(() => createDockerImagesHook({} as DockerImagesHookOptions)).toThrow(OptionTypeError);
    expect(() => createDockerImagesHook({} as DockerImagesHookOptions)).toThrow(/'label' is required/);
    expect(() => createDockerImagesHook({ label: "" })).toThrow(OptionRangeError);
    expect(() => createDockerImagesHook({ label: "a b=c" })).toThrow(/'label' must be a label such as/);
    expect(() => createDockerImagesHook({ label: "a=b", concurrency: 0 })).toThrow(/'concurrency' must be at least 1: current value is 0/);
    expect(() => createDockerImagesHook({ label: "a=b", minAge: "soon" })).toThrow(/'minAge' must be a duration/);
    expect(createDockerImagesHook({ label: "a=b" }).options).toEqual({ label: "a=b", interval: 1_800_000, minAge: 600_000, concurrency: 4 });
  });
});
