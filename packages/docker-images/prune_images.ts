import { duration, parseOptions, throwIfAborted, type Hook, type ResourceFigure, type RunContext, type RunReport } from "@reclaim/core";
import type Dockerode from "dockerode";
import { Registry } from "prom-client";
import { z } from "zod";
import { allDanglingFilter, carriesLabel, hasRegistryDigest, imageBytes, isUntagged, managedDanglingFilter, shortId } from "./_dangling.ts";
import { resolveDocker, type DockerConnection } from "./_docker_client.ts";
import { dockerImageMetrics, type DockerImageMetrics, type RemovalOutcome } from "./_metrics.ts";
import { forEachConcurrent } from "./_pool.ts";

/** Hook name, the `hook` label of the common metrics. */
export const DOCKER_IMAGES_HOOK = "docker-images";

/** A label filter as the Docker engine reads it: `key=value`, or a bare `key` for any value. */
const labelSchema = z
  .string()
  .regex(/^[^=\s]+(=.*)?$/, "must be a label such as \"cascade.managed=true\" (key=value, or a bare key for any value)");

/**
 * The serialisable options of {@link createDockerImagesHook} (zod schema, defaults filled in).
 *
 * @example
 * ```ts
 * dockerImagesOptions.parse({ label: "cascade.managed=true" }).minAge; // 600000
 * ```
 */
export const dockerImagesOptions = z.strictObject({
  /** Only dangling images carrying this label are removed: `key=value`, or a bare `key` for any value. */
  label: labelSchema,
  /** Suggested time between passes, used by {@link startDockerImagesCleanup}. @default "30m" */
  interval: duration().default(1_800_000).refine((ms) => ms >= 1_000, "must be at least 1s"),
  /** Images created less than this long ago are spared (a build in progress). @default "10m" */
  minAge: duration().default(600_000),
  /** Removals in flight at once. @default 4 */
  concurrency: z.number().int().min(1).max(32).default(4),
});

/** Resolved, frozen options of a docker-images hook (durations in ms). */
export type ResolvedDockerImagesOptions = z.output<typeof dockerImagesOptions>;

/** Where an error reported to `onError` happened. */
export interface DockerImagesErrorContext {
  /** `scan`: listing images failed; `remove`: removing one image failed with something other than 404/409. */
  stage: "scan" | "remove";
  /** The image being removed (`sha256:...`), for `stage: "remove"`. */
  imageId?: string;
  /** The hook's label. */
  label: string;
}

/** Options of {@link createDockerImagesHook}. Durations are milliseconds or strings such as `"10m"`. */
export interface DockerImagesHookOptions {
  /** Only dangling images carrying this label are removed, e.g. `cascade.managed=true`. Required. */
  label: string;
  /** A dockerode client or its connection options. @default `DOCKER_HOST`, else `/var/run/docker.sock` */
  docker?: DockerConnection;
  /** Suggested time between passes (see {@link startDockerImagesCleanup}). @default "30m" */
  interval?: number | string;
  /** Images created less than this long ago are spared. @default "10m" */
  minAge?: number | string;
  /** Removals in flight at once. @default 4 */
  concurrency?: number;
  /** Called for list failures and removal errors other than 404/409 (plug Sentry here); its own errors are logged. @default none */
  onError?: (err: Error, context: DockerImagesErrorContext) => void;
  /** Registry for the hook's own metrics. @default a private registry */
  registry?: Registry;
  /** Instance name: `hook.name` and the `hook` label of every metric. @default "docker-images" */
  name?: string;
}

/** One image removed (or, in a dry run, that would be removed). */
export interface RemovedImage {
  /** Image id, `sha256:...`. */
  id: string;
  /** Bytes counted for it (see README: full image size on engines older than API 1.42). */
  bytes: number;
  /** ISO 8601 creation time. */
  createdAt: string;
}

/** What one pass of the docker-images hook reports (`reclaim run docker-images` prints it). */
export interface DockerImagesReport extends RunReport {
  label: string;
  /** Images removed, or that would be removed in a dry run. */
  images: RemovedImage[];
  /** 409: still used by a container (running or stopped); left alone. */
  inUse: number;
  /** 404: already gone (another instance or `docker image prune` got there first). */
  gone: number;
  /** Other removal errors, reported to `onError`. */
  errors: number;
  /** Spared because they were created less than `minAge` ago. */
  tooYoung: number;
  /** Kept: untagged but with a registry digest (pulled by digest, or pushed before the tag moved). Never removed. */
  withDigest: number;
  /** True when the image list failed; nothing was removed. */
  scanFailed: boolean;
}

/** A docker-images hook: a {@link Hook} with its resolved options. */
export interface DockerImagesHook extends Hook<DockerImagesReport> {
  readonly options: Readonly<ResolvedDockerImagesOptions>;
}

interface Census {
  managed: { images: number; bytes: number };
  unmanaged: { images: number; bytes: number };
}

/**
 * Creates the hook that removes dangling Docker images carrying `label`, one `DELETE /images/{id}` each with
 * `force=false` (so images used by any container are never removed). The scan filter is exactly `dangling=true`
 * AND `label=<label>`; each listed image is checked again (untagged, no registry digest, carries the label, older
 * than `minAge`) before it is removed. 409 (in use) and 404 (gone) are expected outcomes; other errors go to `onError` and the
 * pass goes on. A failed list is logged and counted, never thrown. At the end of each pass the hook counts every
 * dangling image, labelled or not, into `reclaim_docker_dangling_images{scope}` so that images built without the
 * label show up as `scope="unmanaged"`.
 *
 * @example
 * ```ts
 * import { createRunner } from "@reclaim/core";
 * const hook = createDockerImagesHook({ label: "cascade.managed=true", registry });
 * const runner = createRunner(hook, { interval: hook.options.interval, registry, logger });
 * runner.start();
 * ```
 */
export function createDockerImagesHook(options: DockerImagesHookOptions): DockerImagesHook {
  const { docker, onError, registry, name = DOCKER_IMAGES_HOOK, ...serialisable } = options;
  const resolved = parseOptions(DOCKER_IMAGES_HOOK, dockerImagesOptions, serialisable);
  const client = resolveDocker(docker);
  const metrics = dockerImageMetrics(registry ?? new Registry(), name);
  let lastCensus: Census | undefined;
  const reportError = (err: unknown, context: DockerImagesErrorContext, log: RunContext["log"]): void => {
    if (!onError) return;
    try {
      onError(err instanceof Error ? err : new Error(String(err)), context);
    } catch (callbackErr) {
      log.warn({ err: callbackErr }, "onError callback threw; ignored");
    }
  };
  return {
    name,
    type: DOCKER_IMAGES_HOOK,
    spanName: "prune images",
    kind: "image",
    options: resolved,
    async run(ctx) {
      const report = await prunePass(client, resolved, metrics, ctx, reportError);
      const census = await takeCensus(client, resolved.label, metrics, ctx, reportError);
      if (census) lastCensus = census;
      return report;
    },
    status() {
      const census = lastCensus;
      const resources: ResourceFigure[] = census
        ? (["managed", "unmanaged"] as const).map((scope) => ({ label: `dangling ${scope}: ${census[scope].images} images`, value: census[scope].bytes, unit: "bytes" }))
        : [];
      return { label: resolved.label, dangling: census ?? null, resources };
    },
  };
}

type ReportError = (err: unknown, context: DockerImagesErrorContext, log: RunContext["log"]) => void;

async function prunePass(
  docker: Dockerode,
  options: ResolvedDockerImagesOptions,
  metrics: DockerImageMetrics,
  ctx: RunContext,
  reportError: ReportError,
): Promise<DockerImagesReport> {
  const { label } = options;
  const report: DockerImagesReport = { removed: 0, reclaimedBytes: 0, label, images: [], inUse: 0, gone: 0, errors: 0, tooYoung: 0, withDigest: 0, scanFailed: false };
  ctx.span.setAttribute("reclaim.docker.label", label);
  let listed: Dockerode.ImageInfo[];
  try {
    listed = await docker.listImages({ filters: managedDanglingFilter(label), "shared-size": true } as Dockerode.ListImagesOptions);
  } catch (err) {
    metrics.scanFailure();
    report.scanFailed = true;
    ctx.span.setAttribute("reclaim.docker.scan_failed", true);
    ctx.log.error({ err, label }, "could not list dangling images; nothing removed this pass");
    reportError(err, { stage: "scan", label }, ctx.log);
    return report;
  }
  const cutoff = ctx.now() - options.minAge;
  const candidates: Dockerode.ImageInfo[] = [];
  for (const image of listed) {
    if (!isUntagged(image) || !carriesLabel(image.Labels, label)) {
      // The engine's filter should make this impossible; refuse rather than trust it.
      ctx.log.warn({ imageId: shortId(image.Id), tags: image.RepoTags, label }, "engine listed an image outside the filter; skipped");
      continue;
    }
    if (hasRegistryDigest(image)) {
      // Listed by the engine as dangling (no tag), but a registry knows it by digest and someone may pin it.
      report.withDigest++;
      ctx.log.debug({ imageId: shortId(image.Id), digests: image.RepoDigests }, "dangling image has a registry digest; kept");
      continue;
    }
    if (image.Created * 1000 > cutoff) {
      report.tooYoung++;
      ctx.log.debug({ imageId: shortId(image.Id), createdAt: isoSeconds(image.Created) }, "dangling image younger than minAge; spared");
      continue;
    }
    candidates.push(image);
  }
  ctx.span.setAttributes({ "reclaim.docker.candidates": candidates.length, "reclaim.docker.too_young": report.tooYoung, "reclaim.docker.with_digest": report.withDigest });
  if (report.withDigest > 0) {
    ctx.log.info({ withDigest: report.withDigest, label }, "untagged images with a registry digest kept (pulled by digest or pushed): remove them with docker rmi if unneeded");
  }

  if (ctx.dryRun) {
    for (const image of candidates) {
      throwIfAborted(ctx.signal);
      record(report, image);
      ctx.log.info({ imageId: shortId(image.Id), bytes: imageBytes(image), createdAt: isoSeconds(image.Created) }, "would remove dangling image (dry run)");
    }
  } else {
    await forEachConcurrent(candidates, options.concurrency, async (image) => {
      throwIfAborted(ctx.signal);
      const outcome = await removeImage(docker, image, ctx, (err) => reportError(err, { stage: "remove", imageId: image.Id, label }, ctx.log));
      metrics.removal(outcome);
      if (outcome === "removed") record(report, image);
      else if (outcome === "in_use") report.inUse++;
      else if (outcome === "gone") report.gone++;
      else report.errors++;
    });
  }
  report.removedByKind = { image: report.removed };
  ctx.span.setAttributes({ "reclaim.docker.in_use": report.inUse, "reclaim.docker.gone": report.gone, "reclaim.docker.errors": report.errors });
  if (report.removed > 0) {
    ctx.log.info(
      { removed: report.removed, reclaimedBytes: report.reclaimedBytes, inUse: report.inUse, gone: report.gone, errors: report.errors, label, dryRun: ctx.dryRun },
      ctx.dryRun ? "dangling images that would be removed" : "removed dangling images",
    );
  }
  return report;
}

async function removeImage(docker: Dockerode, image: Dockerode.ImageInfo, ctx: RunContext, onError: (err: unknown) => void): Promise<RemovalOutcome> {
  const imageId = shortId(image.Id);
  try {
    await docker.getImage(image.Id).remove({ force: false, noprune: false });
    ctx.log.debug({ imageId, bytes: imageBytes(image) }, "removed dangling image");
    return "removed";
  } catch (err) {
    const status = (err as { statusCode?: unknown }).statusCode;
    if (status === 409) {
      ctx.log.debug({ imageId }, "dangling image in use by a container; left alone");
      return "in_use";
    }
    // Two removals of one image racing (two instances, or `docker image prune` at the same time) can end in a 500
    // such as "unrecognized image ID" for the loser: when the image no longer exists, that is a 404 in disguise.
    if (status === 404 || (await isGone(docker, image.Id))) {
      ctx.log.debug({ imageId, status }, "dangling image already gone");
      return "gone";
    }
    ctx.log.warn({ err, imageId }, "could not remove dangling image; pass continues");
    onError(err);
    return "error";
  }
}

async function isGone(docker: Dockerode, id: string): Promise<boolean> {
  try {
    await docker.getImage(id).inspect();
    return false;
  } catch (err) {
    return (err as { statusCode?: unknown }).statusCode === 404;
  }
}

/** Counts every dangling image by scope and sets the gauges. Read-only; a failure leaves the gauges as they were. */
async function takeCensus(docker: Dockerode, label: string, metrics: DockerImageMetrics, ctx: RunContext, reportError: ReportError): Promise<Census | undefined> {
  let images: Dockerode.ImageInfo[];
  try {
    images = await docker.listImages({ filters: allDanglingFilter(), "shared-size": true } as Dockerode.ListImagesOptions);
  } catch (err) {
    metrics.scanFailure();
    ctx.log.warn({ err }, "could not count dangling images; gauges keep their last values");
    reportError(err, { stage: "scan", label }, ctx.log);
    return undefined;
  }
  const census: Census = { managed: { images: 0, bytes: 0 }, unmanaged: { images: 0, bytes: 0 } };
  for (const image of images) {
    const scope = carriesLabel(image.Labels, label) ? census.managed : census.unmanaged;
    scope.images++;
    scope.bytes += imageBytes(image);
  }
  for (const scope of ["managed", "unmanaged"] as const) {
    metrics.dangling(scope, census[scope].images, census[scope].bytes);
  }
  ctx.span.setAttributes({
    "reclaim.docker.dangling_managed": census.managed.images,
    "reclaim.docker.dangling_unmanaged": census.unmanaged.images,
    "reclaim.docker.dangling_unmanaged_bytes": census.unmanaged.bytes,
  });
  return census;
}

function record(report: DockerImagesReport, image: Dockerode.ImageInfo): void {
  const bytes = imageBytes(image);
  report.removed++;
  report.reclaimedBytes += bytes;
  report.images.push({ id: image.Id, bytes, createdAt: isoSeconds(image.Created) });
}

function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString();
}
