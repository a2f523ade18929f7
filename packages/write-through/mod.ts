/**
 * @module
 * Write-through cleanup: delete the local copy of a file once its remote (R2/S3/CDN) copy is verified with
 * `HEAD` (200, the same `Content-Length` and, where the remote states one, the same content checksum). In-process with `afterPublish`, or out-of-process through the
 * publish journal (`recordPublished`) consumed by the `write-through` hook.
 *
 * @example
 * ```ts
 * import { afterPublish } from "@reclaim/write-through";
 *
 * // at the end of a publish, once the uploads returned their URLs:
 * await afterPublish(["images/a.png", "videos/b.mp4"], ["https://cdn.example/images/a.png", "https://cdn.example/videos/b.mp4"], {
 *   root: "/app/.data",
 *   remoteEnabled: process.env.R2_ENABLED === "true",
 * });
 * ```
 */
export * from "./definition.ts";
export * from "./publish_journal.ts";
export * from "./verify_upload.ts";
export * from "./write_through_hook.ts";
export * from "./write_through_options.ts";
