import { lstat, unlink } from "node:fs/promises";
import { trace, type Tracer } from "@opentelemetry/api";
import { hookMetrics, mediaScopeFields, parseOptions, silentLogger, type DeletionScope, type Logger } from "@reclaim/core";
import { Registry } from "prom-client";
import { z } from "zod";
import { openMediaScope } from "./_deletion_scope.ts";
import { writeThroughMetrics } from "./_metrics.ts";
import { hashFile, headInside, statedChecksums } from "./_remote_check.ts";
import { parseRemoteBase, type RemoteBase } from "./_remote_url.ts";

/** One local file and the URL of its remote copy. */
export interface PublishedFile {
  /** Local path: relative to the root, or absolute inside it. */
  path: string;
  /** URL of the remote copy. */
  url: string;
}

/** The check a remote copy passed before its local copy was deleted: its content checksum, or only its size. */
export type VerifyCheck = "checksum" | "size";

/**
 * What happened to one file: `deleted` (remote copy verified, local copy removed; `would-delete` in a dry run),
 * `kept` (not verified: the local copy stays, `retry` says whether trying later can help) or `skipped` (never
 * deletable: outside the root, not inside a media folder, protected, the publish journal, a symlink, not a regular
 * file; or already gone). `reason` says which; `check` and `checkDetail` say how a deleted file was verified.
 */
export interface VerifyOutcome {
  path: string;
  url: string;
  outcome: "deleted" | "would-delete" | "kept" | "skipped";
  reason?: string;
  /** Bytes of the local copy (deleted files). */
  bytes?: number;
  /** For `kept`: a later attempt may succeed (remote not there yet, network error, file being rewritten). */
  retry?: boolean;
  /** For `deleted`/`would-delete`: the check the remote copy passed. */
  check?: VerifyCheck;
  /** For `deleted`/`would-delete`: the checksums that matched (`x-amz-checksum-sha256`, `Content-MD5`, `Digest sha-256`, `ETag (MD5)`...), or why only the size was compared. */
  checkDetail?: string;
}

/** Settings shared by {@link afterPublish} and the `write-through` hook. */
export interface VerifyOptions {
  /** Folder holding the local copies: nothing outside it is deleted. */
  root: string;
  /** Timeout of one HEAD request in ms. @default 10000 */
  timeoutMs?: number;
  /** HEAD requests in flight at once. @default 4 */
  concurrency?: number;
  /** Verify, delete nothing. @default false */
  dryRun?: boolean;
  /** Media folders, relative to the root: only files inside one (at any depth) may be deleted. @default ["images", "videos", "voice", "bid-images"] */
  mediaDirs?: readonly string[];
  /** Globs never deleted (picomatch, `dot: true`): without a slash they match the file name, with one the root-relative path. @default ["*.json", "*keypair*", "*.key"] */
  protect?: readonly string[];
  /** Publish journal, relative to the root: never deleted, nor its `.state` (the default journal never either). @default ".reclaim/published.jsonl" */
  journal?: string;
  /**
   * How a remote copy is verified: `"checksum"` compares the local file's MD5/SHA-256 with a content checksum the
   * remote states (an S3/R2 single-part `ETag`, `x-amz-checksum-sha256`, `Content-MD5`, `Digest`) and falls back
   * to the size when it states none; `"size"` compares `Content-Length` only. The length must match in both.
   * @default "checksum"
   */
  verify?: VerifyCheck;
  /** Trusted base URL: a `HEAD` redirect is followed only to a URL under it (same origin, under its path). @default the origin of each file's URL */
  baseUrl?: string;
}

const verifySchema = z.strictObject({
  ...mediaScopeFields,
  journal: z.string().min(1).optional(),
  verify: z.enum(["checksum", "size"]).default("checksum"),
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
});

/** Validates `mediaDirs`/`protect`/`verify`/`baseUrl` (throwing `RECLAIM_ERR_INVALID_OPTION` naming the field). */
function verifySettings(options: VerifyOptions): z.output<typeof verifySchema> {
  const { mediaDirs, protect, journal, verify, baseUrl } = options;
  const input = {
    ...(mediaDirs === undefined ? {} : { mediaDirs: [...mediaDirs] }),
    ...(protect === undefined ? {} : { protect: [...protect] }),
    ...(journal === undefined ? {} : { journal }),
    ...(verify === undefined ? {} : { verify }),
    ...(baseUrl === undefined ? {} : { baseUrl }),
  };
  return parseOptions("write-through", verifySchema, input);
}

/** Resolved settings of one verification run. */
interface Settings {
  scope: DeletionScope;
  verify: VerifyCheck;
  base: RemoteBase | undefined;
  timeoutMs: number;
  dryRun: boolean;
}

const HTTP = /^https?:\/\//i;
const GONE = "local file is already gone";
const EMPTY = "empty local path";
const ALREADY_URL = "local entry is already a URL";
/** Skip reasons that are routine (nothing to do), as opposed to an entry naming a file write-through never deletes. */
const ROUTINE_SKIPS: ReadonlySet<string> = new Set([GONE, EMPTY, ALREADY_URL]);

/**
 * Verifies each remote copy with `HEAD` (200, a `Content-Length` equal to the local size and, with `verify:
 * "checksum"`, every content checksum the remote states equal to the local file's) and only then deletes the local
 * file; re-checks just before unlinking that the local file is unchanged. Redirects are followed only inside the
 * trusted base (`baseUrl`, else the URL's origin). Only files inside a media folder (`mediaDirs`) and not protected
 * (`protect`) are considered; never the publish journal or its state. Never deletes outside `root`, through a
 * symlink, or anything but a regular file. Never throws for one file: each gets an outcome. Throws
 * `RECLAIM_ERR_INVALID_OPTION` for bad `mediaDirs`/`protect`/`verify`/`baseUrl`.
 *
 * @example
 * ```ts
 * const outcomes = await verifyAndDelete([{ path: "images/a.png", url: "https://cdn.example/images/a.png" }], { root: "/app/.data" });
 * outcomes[0]?.outcome; // "deleted" once the CDN serves the same number of bytes
 * ```
 */
export async function verifyAndDelete(files: readonly PublishedFile[], options: VerifyOptions): Promise<VerifyOutcome[]> {
  const checked = verifySettings(options);
  const settings: Settings = {
    scope: await openMediaScope(options.root, checked),
    verify: checked.verify,
    base: checked.baseUrl === undefined ? undefined : parseRemoteBase(checked.baseUrl),
    timeoutMs: options.timeoutMs ?? 10_000,
    dryRun: options.dryRun ?? false,
  };
  const outcomes: VerifyOutcome[] = new Array<VerifyOutcome>(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const index = next++;
      const file = files[index]!;
      try {
        outcomes[index] = await verifyOne(file, settings);
      } catch (err) {
        outcomes[index] = { path: file.path, url: file.url, outcome: "kept", reason: `unexpected error: ${(err as Error).message}`, retry: true };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, files.length) }, worker));
  return outcomes;
}

async function verifyOne(file: PublishedFile, settings: Settings): Promise<VerifyOutcome> {
  const base = { path: file.path, url: file.url };
  if (typeof file.path !== "string" || file.path.trim() === "") return { ...base, outcome: "skipped", reason: EMPTY };
  if (HTTP.test(file.path)) return { ...base, outcome: "skipped", reason: ALREADY_URL };
  if (typeof file.url !== "string" || !HTTP.test(file.url) || !URL.canParse(file.url)) return { ...base, outcome: "kept", reason: "no http(s) remote URL", retry: false };
  // The scope's path rules, then the file on disk (symlinks, file type, filesystem): all before any HEAD.
  const verdict = await settings.scope.check(file.path);
  if (!verdict.ok) return { ...base, outcome: "skipped", reason: verdict.gone ? GONE : verdict.reason };
  const { path: local, stat: before } = verdict;

  // Redirects are followed only inside the trusted base: the configured one, else the URL's own origin.
  const trusted = settings.base ?? { origin: new URL(file.url).origin, path: "/" };
  const head = await headInside(file.url, trusted, settings.timeoutMs);
  if (!head.ok) return { ...base, outcome: "kept", reason: head.reason, retry: head.retry };
  const { response } = head;
  if (response.status !== 200) return { ...base, outcome: "kept", reason: `HEAD returned ${response.status}`, retry: true };
  const length = response.headers.get("content-length");
  if (length === null || !/^\d+$/.test(length)) return { ...base, outcome: "kept", reason: "HEAD returned no Content-Length", retry: true };
  if (Number(length) !== before.size) return { ...base, outcome: "kept", reason: `remote Content-Length ${length} differs from local size ${before.size}`, retry: true };

  let check: VerifyCheck = "size";
  let checkDetail: string;
  if (settings.verify === "size") {
    checkDetail = 'Content-Length only (verify: "size")';
  } else {
    const { checksums, notes } = statedChecksums(response.headers);
    if (checksums.length === 0) {
      checkDetail = `Content-Length only: ${notes.length > 0 ? notes.join("; ") : "the remote states no content checksum"}`;
    } else {
      const local_ = await hashFile(local, new Set(checksums.map((c) => c.algorithm)));
      const mismatch = checksums.find((c) => local_[c.algorithm] !== c.hex);
      if (mismatch) {
        return { ...base, outcome: "kept", reason: `remote ${mismatch.source} ${mismatch.hex} differs from the local file's ${mismatch.algorithm} ${local_[mismatch.algorithm]}: same size, different content`, retry: true };
      }
      check = "checksum";
      checkDetail = checksums.map((c) => c.source).join(", ");
    }
  }

  const now = await lstat(local).catch(() => undefined);
  if (!now || !now.isFile() || now.ino !== before.ino || now.size !== before.size || now.mtimeMs !== before.mtimeMs) {
    return { ...base, outcome: "kept", reason: "local file changed during verification", retry: true };
  }
  if (settings.dryRun) return { ...base, outcome: "would-delete", bytes: before.size, check, checkDetail };
  try {
    await unlink(local);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { ...base, outcome: "skipped", reason: GONE };
    return { ...base, outcome: "kept", reason: `unlink failed: ${(err as Error).message}`, retry: false };
  }
  return { ...base, outcome: "deleted", bytes: before.size, check, checkDetail };
}

/** Options of {@link afterPublish}. */
export interface AfterPublishOptions extends VerifyOptions {
  /** Whether a remote holds the copies; when false nothing is checked or deleted. */
  remoteEnabled: boolean;
  /** Registry for `reclaim_write_through_files_total`, `reclaim_disk_removed_bytes_total` and `reclaim_removed_total`. @default a private registry */
  registry?: Registry;
  /** The `hook` label of those metrics and the logger's `hook`. @default "write-through" */
  name?: string;
  /** One info line per call that deleted something, a warning per file kept. @default silent */
  logger?: Logger;
  /** Tracer for the `verify upload` span. @default trace.getTracer("reclaim") */
  tracer?: Tracer;
}

/** What {@link afterPublish} did. */
export interface AfterPublishResult {
  deleted: number;
  bytes: number;
  files: VerifyOutcome[];
}

/**
 * Call at the end of a publish: for each local file whose remote copy (same index in `remoteUrls`) answers
 * `HEAD` with 200, a `Content-Length` equal to the local size and, when it states one, a content checksum equal
 * to the local file's (see {@link verifyAndDelete}), deletes the local copy. Entries that are empty
 * or already `http(s)://` URLs are skipped; a file whose copy cannot be verified stays (the disk age sweep is
 * the backstop). Does nothing when `remoteEnabled` is false. Runs in a `verify upload` span. Never throws for
 * one file.
 *
 * @example
 * ```ts
 * const result = await afterPublish(["images/a.png"], ["https://cdn.example/images/a.png"], { root: "/app/.data", remoteEnabled: true });
 * result.deleted; // 1 once the CDN serves the same number of bytes
 * ```
 */
export async function afterPublish(localPaths: readonly string[], remoteUrls: readonly string[], options: AfterPublishOptions): Promise<AfterPublishResult> {
  verifySettings(options); // bad mediaDirs/protect/verify throw even while the remote is disabled
  if (!options.remoteEnabled) return { deleted: 0, bytes: 0, files: [] };
  const tracer = options.tracer ?? trace.getTracer("reclaim");
  const hook = options.name ?? "write-through";
  const log = (options.logger ?? silentLogger).child({ hook });
  const registry = options.registry ?? new Registry();
  return tracer.startActiveSpan("verify upload", async (span) => {
    try {
      const files = localPaths.map((path, i) => ({ path, url: remoteUrls[i] ?? "" }));
      const outcomes = await verifyAndDelete(files, options);
      const result = summarize(outcomes);
      recordOutcomes(registry, hook, outcomes, options.dryRun ?? false);
      if (!options.dryRun && result.deleted > 0) hookMetrics(registry).removed.inc({ hook, kind: "write_through" }, result.deleted);
      for (const o of outcomes) if (o.outcome === "kept") log.warn({ path: o.path, reason: o.reason }, "local copy kept: remote copy not verified");
      for (const o of outcomes) if (isRefusal(o)) log.warn({ path: o.path, reason: o.reason }, "local file skipped: never deleted by write-through");
      if (result.deleted > 0) log.info({ deleted: result.deleted, bytes: result.bytes, dryRun: options.dryRun ?? false }, "deleted local copies of uploaded files");
      span.setAttributes({ "reclaim.write_through.files": outcomes.length, "reclaim.write_through.deleted": result.deleted, "reclaim.reclaimed_bytes": result.bytes, "reclaim.dry_run": options.dryRun ?? false });
      return result;
    } finally {
      span.end();
    }
  });
}

/**
 * Whether an outcome is a refusal: `skipped` because the entry named a file write-through never deletes (outside
 * the root, outside the media folders, protected, the journal, a symlink...), as opposed to a routine skip (empty
 * entry, entry already a URL, file already gone).
 *
 * @example
 * ```ts
 * isRefusal({ path: "posts.json", url: "https://cdn.example/posts.json", outcome: "skipped", reason: 'protected (matches "*.json")' }); // true
 * ```
 */
export function isRefusal(outcome: VerifyOutcome): boolean {
  return outcome.outcome === "skipped" && !ROUTINE_SKIPS.has(outcome.reason ?? "");
}

/** Counts deleted (or would-delete) files and their bytes. */
export function summarize(outcomes: readonly VerifyOutcome[]): AfterPublishResult {
  let deleted = 0;
  let bytes = 0;
  for (const o of outcomes) {
    if (o.outcome === "deleted" || o.outcome === "would-delete") {
      deleted++;
      bytes += o.bytes ?? 0;
    }
  }
  return { deleted, bytes, files: [...outcomes] };
}

/** Adds outcomes to `reclaim_write_through_files_total{outcome}` and (not in a dry run) removed bytes. */
export function recordOutcomes(registry: Registry, hook: string, outcomes: readonly VerifyOutcome[], dryRun: boolean): void {
  const metrics = writeThroughMetrics(registry);
  let bytes = 0;
  for (const o of outcomes) {
    metrics.files.inc({ hook, outcome: o.outcome });
    if (o.outcome === "deleted") bytes += o.bytes ?? 0;
  }
  if (!dryRun && bytes > 0) metrics.removedBytes.inc({ hook, kind: "write_through" }, bytes);
}
