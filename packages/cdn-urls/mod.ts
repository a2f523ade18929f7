/**
 * @module
 * Strip hard-coded CDN hosts from URLs stored in Postgres (`https://cdn.example.ai/generations/u/i.png` →
 * `/generations/u/i.png`): a batched, resumable, verified backfill (`reclaim backfill cdn-urls`), a scheduled hook that
 * keeps the columns clean while old writers still store full URLs, a source scan for hard-coded hosts, and URL
 * helpers for both sides of the transition (also as the browser-safe entry `@reclaim/cdn-urls/urls`).
 *
 * @example
 * ```ts
 * import { backfillCdnUrls, toPublicUrl } from "@reclaim/cdn-urls";
 *
 * await backfillCdnUrls(pool, { hosts: ["cdn.example.ai"], columns: [{ table: "flat_file", column: "url" }] });
 * toPublicUrl("/generations/u/i.png", { base: process.env.CDN_URL ?? "" });
 * ```
 */
export * from "./backfill.ts";
export * from "./definition.ts";
export * from "./options.ts";
export * from "./rewrite_hook.ts";
export * from "./scan_sources.ts";
export * from "./urls.ts";
export * from "./verify.ts";
