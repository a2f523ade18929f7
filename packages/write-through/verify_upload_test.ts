import { createHash } from "node:crypto";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { memorySpans, tempDir } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { afterPublish } from "./verify_upload.ts";
import { startCdn } from "./_test_server.ts";
import { exists, local } from "./_test_files.ts";

describe("afterPublish()", () => {
  it("deletes a local file once HEAD returns 200 with the same Content-Length", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 1234);
    cdn.objects.set("/images/a.png", { length: 1234 });
    const result = await afterPublish(["images/a.png"], [`${cdn.base}/images/a.png`], { root: dir.path, remoteEnabled: true });
    expect(result).toMatchObject({ deleted: 1, bytes: 1234 });
    expect(await exists(a)).toBe(false);
    expect(cdn.requests).toEqual(["HEAD /images/a.png"]);
  });

  it("accepts an absolute local path inside the root", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "videos/b.mp4", 10);
    cdn.objects.set("/b.mp4", { length: 10 });
    expect((await afterPublish([a], [`${cdn.base}/b.mp4`], { root: dir.path, remoteEnabled: true })).deleted).toBe(1);
    expect(await exists(a)).toBe(false);
  });

  it("keeps the local file when the remote copy is missing, a different size, has no length or does not answer", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const paths = await Promise.all(["a", "b", "c", "d", "e"].map((n) => local(dir.path, `images/${n}.png`, 100)));
    cdn.objects.set("/b.png", { length: 99 });
    cdn.objects.set("/c.png", { length: null });
    cdn.objects.set("/d.png", { hang: true });
    cdn.objects.set("/e.png", { status: 500, length: 100 });
    const urls = ["a", "b", "c", "d", "e"].map((n) => `${cdn.base}/${n}.png`);
    const result = await afterPublish(["images/a.png", "images/b.png", "images/c.png", "images/d.png", "images/e.png"], urls, { root: dir.path, remoteEnabled: true, timeoutMs: 300 });
    expect(result.deleted).toBe(0);
    for (const path of paths) expect(await exists(path)).toBe(true);
    expect(result.files.map((f) => [f.outcome, f.reason])).toEqual([
      ["kept", "HEAD returned 404"],
      ["kept", "remote Content-Length 99 differs from local size 100"],
      ["kept", "HEAD returned no Content-Length"],
      ["kept", "HEAD failed: timed out"],
      ["kept", "HEAD returned 500"],
    ]);
  });

  it("skips URL and empty local entries and never deletes outside the root", async () => {
    await using dir = await tempDir("wt-");
    await using outside = await tempDir("wt-outside-");
    await using cdn = await startCdn();
    const victim = await local(outside.path, "victim.png", 5);
    await mkdir(join(dir.path, "images"));
    await symlink(outside.path, join(dir.path, "images", "escape"));
    await symlink(victim, join(dir.path, "images", "link.png"));
    cdn.objects.set("/v.png", { length: 5 });
    const url = `${cdn.base}/v.png`;
    const result = await afterPublish(
      ["", "https://cdn.example/a.png", victim, "../" + victim.split("/").slice(-2).join("/"), "images/escape/victim.png", "images/link.png"],
      [url, url, url, url, url, url],
      { root: dir.path, remoteEnabled: true },
    );
    expect(result.deleted).toBe(0);
    expect(await exists(victim)).toBe(true);
    expect(await exists(join(dir.path, "images", "link.png"))).toBe(true);
    expect(result.files.map((f) => f.reason)).toEqual([
      "empty local path",
      "local entry is already a URL",
      "outside the root",
      "outside the root",
      "reached through a symlink",
      "a symlink (never followed)",
    ]);
  });

  it("deletes only media files that are not protected, whatever remote copy the caller names", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const rels = [
      "posts.json",
      "app.db",
      "images/meta.json",
      "images/signer-keypair.bin",
      "images/.id.key",
      "images/../posts.json",
      ".reclaim/published.jsonl",
      ".reclaim/published.jsonl.state",
      "images/ok.png",
      "bid-images/nested/deep/ok.jpg",
    ];
    for (const rel of new Set(rels.map((r) => join(r)))) await local(dir.path, rel, 9);
    rels.forEach((_, i) => cdn.objects.set(`/${i}`, { length: 9 }));
    const result = await afterPublish(
      rels,
      rels.map((_, i) => `${cdn.base}/${i}`),
      { root: dir.path, remoteEnabled: true },
    );
    expect(result.files.map((f) => [f.path, f.outcome, f.reason])).toEqual([
      ["posts.json", "skipped", 'protected (matches "*.json")'],
      ["app.db", "skipped", "not inside an allowed folder"],
      ["images/meta.json", "skipped", 'protected (matches "*.json")'],
      ["images/signer-keypair.bin", "skipped", 'protected (matches "*keypair*")'],
      ["images/.id.key", "skipped", 'protected (matches "*.key")'],
      ["images/../posts.json", "skipped", 'protected (matches "*.json")'],
      [".reclaim/published.jsonl", "skipped", "the publish journal or its state"],
      [".reclaim/published.jsonl.state", "skipped", "the publish journal or its state"],
      ["images/ok.png", "deleted", undefined],
      ["bid-images/nested/deep/ok.jpg", "deleted", undefined],
    ]);
    for (const rel of rels.slice(0, 8)) expect(await exists(join(dir.path, rel)), rel).toBe(true);
    expect(await exists(join(dir.path, "images/ok.png"))).toBe(false);
    // Refused entries are decided locally: no HEAD is sent for them.
    expect(cdn.requests.sort()).toEqual(["HEAD /8", "HEAD /9"]);
  });

  it("honours custom mediaDirs and path protect globs, and rejects bad ones naming the field", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const rels = ["images/a.png", "media/images/b.png", "media/images/keep/c.png", "media/images-old/d.png"];
    for (const rel of rels) await local(dir.path, rel, 3);
    rels.forEach((_, i) => cdn.objects.set(`/${i}`, { length: 3 }));
    const result = await afterPublish(
      rels,
      rels.map((_, i) => `${cdn.base}/${i}`),
      { root: dir.path, remoteEnabled: true, mediaDirs: ["media/images/"], protect: ["media/images/keep/**"] },
    );
    expect(result.files.map((f) => f.reason ?? f.outcome)).toEqual(["not inside an allowed folder", "deleted", 'protected (matches "media/images/keep/**")', "not inside an allowed folder"]);
    expect(await exists(join(dir.path, "images/a.png"))).toBe(true);
    expect(await exists(join(dir.path, "media/images/keep/c.png"))).toBe(true);
    await expect(afterPublish([], [], { root: dir.path, remoteEnabled: false, mediaDirs: ["../etc"] })).rejects.toThrow(/'mediaDirs\[0\]' must be a path relative to the root/);
    await expect(afterPublish([], [], { root: dir.path, remoteEnabled: true, protect: [""] })).rejects.toThrow(/'protect\[0\]'/);
  });

  it("refuses mediaDirs that are the root itself or overlap, so events.jsonl beside the media can never be deleted", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const log = await local(dir.path, "events.jsonl", 9);
    cdn.objects.set("/events.jsonl", { length: 9 });
    const url = `${cdn.base}/events.jsonl`;
    await expect(afterPublish(["events.jsonl"], [url], { root: dir.path, remoteEnabled: true, mediaDirs: ["."] })).rejects.toThrow(/'mediaDirs\[0\]' must be a folder inside the root, not the root itself/);
    await expect(afterPublish(["events.jsonl"], [url], { root: dir.path, remoteEnabled: true, mediaDirs: ["images", "./"] })).rejects.toThrow(/'mediaDirs\[1\]' must be a folder inside the root/);
    await expect(afterPublish(["events.jsonl"], [url], { root: dir.path, remoteEnabled: true, mediaDirs: ["images", "images/thumbs"] })).rejects.toThrow(`'mediaDirs[1]' must not be inside mediaDirs[0] ("images")`);
    const result = await afterPublish(["events.jsonl"], [url], { root: dir.path, remoteEnabled: true });
    expect(result.files.map((f) => [f.outcome, f.reason])).toEqual([["skipped", "not inside an allowed folder"]]);
    expect(await exists(log)).toBe(true);
    expect(cdn.requests).toEqual([]);
  });

  it("does nothing when the remote is disabled", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 3);
    cdn.objects.set("/a.png", { length: 3 });
    expect(await afterPublish(["images/a.png"], [`${cdn.base}/a.png`], { root: dir.path, remoteEnabled: false })).toEqual({ deleted: 0, bytes: 0, files: [] });
    expect(await exists(a)).toBe(true);
    expect(cdn.requests).toEqual([]);
  });

  it("dry run verifies but deletes nothing", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 3);
    cdn.objects.set("/a.png", { length: 3 });
    const result = await afterPublish(["images/a.png"], [`${cdn.base}/a.png`], { root: dir.path, remoteEnabled: true, dryRun: true });
    expect(result.files[0]?.outcome).toBe("would-delete");
    expect(await exists(a)).toBe(true);
  });

  it("records a verify upload span and the removed metrics", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    await local(dir.path, "images/a.png", 7);
    await local(dir.path, "images/b.png", 7);
    cdn.objects.set("/a.png", { length: 7 });
    const registry = new Registry();
    const { tracer, spans } = memorySpans();
    await afterPublish(["images/a.png", "images/b.png"], [`${cdn.base}/a.png`, `${cdn.base}/b.png`], { root: dir.path, remoteEnabled: true, registry, tracer });
    const [span] = await spans();
    expect(span?.name).toBe("verify upload");
    expect(span?.attributes).toMatchObject({ "reclaim.write_through.files": 2, "reclaim.write_through.deleted": 1, "reclaim.reclaimed_bytes": 7 });
    expect(await registry.getSingleMetricAsString("reclaim_disk_removed_bytes_total")).toContain('reclaim_disk_removed_bytes_total{hook="write-through",kind="write_through"} 7');
    expect(await registry.getSingleMetricAsString("reclaim_removed_total")).toContain('reclaim_removed_total{hook="write-through",kind="write_through"} 1');
    const files = await registry.getSingleMetricAsString("reclaim_write_through_files_total");
    expect(files).toContain('reclaim_write_through_files_total{hook="write-through",outcome="deleted"} 1');
    expect(files).toContain('reclaim_write_through_files_total{hook="write-through",outcome="kept"} 1');
  });
});

const b64 = (algorithm: "md5" | "sha256", data: Buffer): string => createHash(algorithm).update(data).digest("base64");
const hex = (algorithm: "md5" | "sha256", data: Buffer): string => createHash(algorithm).update(data).digest("hex");

/** Each way a remote states a content checksum, for `data`. */
const checksumHeaders = (data: Buffer): Array<[string, Record<string, string>]> => [
  ["ETag (MD5)", { etag: `"${hex("md5", data)}"` }],
  ["Content-MD5", { "content-md5": b64("md5", data) }],
  ["x-amz-checksum-sha256", { "x-amz-checksum-sha256": b64("sha256", data) }],
  ["Digest sha-256", { digest: `sha-256=${b64("sha256", data)}` }],
];

describe("afterPublish() verifying the content of the remote copy", () => {
  const LOCAL = Buffer.from("the local bytes, version 2!");
  const OTHER = Buffer.from("the REMOTE bytes, version 1");

  async function publishWith(root: string, cdn: Awaited<ReturnType<typeof startCdn>>, headers: Array<Record<string, string>>, options: { verify?: "checksum" | "size" } = {}) {
    const rels = headers.map((_, i) => `images/${i}.png`);
    for (const rel of rels) {
      await mkdir(join(root, "images"), { recursive: true });
      await writeFile(join(root, rel), LOCAL);
    }
    headers.forEach((h, i) => cdn.objects.set(`/${i}.png`, { length: LOCAL.length, headers: h }));
    return afterPublish(rels, rels.map((_, i) => `${cdn.base}/${i}.png`), { root, remoteEnabled: true, ...options });
  }

  it("keeps a local file whose remote copy has the same length but other content, saying which checksum differs", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    expect(OTHER.length).toBe(LOCAL.length);
    const stated = checksumHeaders(OTHER);
    const result = await publishWith(dir.path, cdn, stated.map(([, h]) => h));
    expect(result.deleted).toBe(0);
    result.files.forEach((f, i) => {
      const [source] = stated[i]!;
      const algorithm = source.includes("sha") ? "sha256" : "md5";
      expect(f).toMatchObject({ outcome: "kept", retry: true });
      expect(f.reason).toBe(`remote ${source} ${hex(algorithm, OTHER)} differs from the local file's ${algorithm} ${hex(algorithm, LOCAL)}: same size, different content`);
    });
    for (let i = 0; i < stated.length; i++) expect(await readFile(join(dir.path, `images/${i}.png`))).toEqual(LOCAL);
  });

  it("deletes a local file whose content checksum matches, and says which check it passed", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const stated = checksumHeaders(LOCAL);
    const result = await publishWith(dir.path, cdn, [...stated.map(([, h]) => h), Object.assign({}, ...stated.map(([, h]) => h))]);
    expect(result.files.map((f) => [f.outcome, f.check, f.checkDetail])).toEqual([
      ...stated.map(([source]) => ["deleted", "checksum", source]),
      ["deleted", "checksum", "x-amz-checksum-sha256, Content-MD5, Digest sha-256, ETag (MD5)"],
    ]);
    for (let i = 0; i <= stated.length; i++) expect(await exists(join(dir.path, `images/${i}.png`))).toBe(false);
  });

  it("falls back to the size for a multipart ETag, which is not an MD5, and says so", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const multipart = `"${"0123456789abcdef".repeat(2)}-3"`;
    const result = await publishWith(dir.path, cdn, [{ etag: multipart }, {}]);
    expect(result.files.map((f) => [f.outcome, f.check, f.checkDetail])).toEqual([
      ["deleted", "size", `Content-Length only: ETag ${multipart} is a multipart ETag, not an MD5 of the content`],
      ["deleted", "size", "Content-Length only: the remote states no content checksum"],
    ]);
  });

  it('compares the length only with verify: "size", whatever checksum the remote states', async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const result = await publishWith(dir.path, cdn, [{ "content-md5": b64("md5", OTHER) }], { verify: "size" });
    expect(result.files.map((f) => [f.outcome, f.check, f.checkDetail])).toEqual([["deleted", "size", 'Content-Length only (verify: "size")']]);
    await expect(afterPublish([], [], { root: dir.path, remoteEnabled: true, verify: "md5" as "size" })).rejects.toThrow(`'verify' must be one of "checksum", "size": current value is "md5"`);
  });
});

describe("afterPublish() and redirects", () => {
  it("never follows a redirect to another origin: the copy is unverified and the local file stays", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    await using elsewhere = await startCdn();
    const a = await local(dir.path, "images/a.png", 10);
    cdn.objects.set("/a.png", { redirect: `${elsewhere.base}/a.png` });
    elsewhere.objects.set("/a.png", { length: 10 });
    const result = await afterPublish(["images/a.png"], [`${cdn.base}/a.png`], { root: dir.path, remoteEnabled: true });
    expect(result.files.map((f) => [f.outcome, f.reason, f.retry])).toEqual([["kept", `HEAD redirected outside the trusted base ${cdn.base}/ (to ${elsewhere.base}/a.png): not verified`, false]]);
    expect(await exists(a)).toBe(true);
    expect(elsewhere.requests).toEqual([]);
  });

  it("follows redirects only while they stay under the trusted base URL", async () => {
    await using dir = await tempDir("wt-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 10);
    const b = await local(dir.path, "images/b.png", 10);
    cdn.objects.set("/media/a.png", { redirect: "/media/v2/a.png", status: 301 });
    cdn.objects.set("/media/v2/a.png", { length: 10 });
    cdn.objects.set("/media/b.png", { redirect: "/private/b.png" });
    cdn.objects.set("/private/b.png", { length: 10 });
    const result = await afterPublish(["images/a.png", "images/b.png"], [`${cdn.base}/media/a.png`, `${cdn.base}/media/b.png`], { root: dir.path, remoteEnabled: true, baseUrl: `${cdn.base}/media` });
    expect(result.files.map((f) => [f.outcome, f.reason])).toEqual([
      ["deleted", undefined],
      ["kept", `HEAD redirected outside the trusted base ${cdn.base}/media/ (to ${cdn.base}/private/b.png): not verified`],
    ]);
    expect(await exists(a)).toBe(false);
    expect(await exists(b)).toBe(true);
    expect(cdn.requests.sort()).toEqual(["HEAD /media/a.png", "HEAD /media/b.png", "HEAD /media/v2/a.png"]);
  });
});
