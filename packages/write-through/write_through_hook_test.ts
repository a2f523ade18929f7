import { createHash } from "node:crypto";
import { appendFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createRunner, silentLogger } from "@reclaim/core";
import { memorySpans, tempDir } from "@reclaim/core/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { writeThroughDefinition } from "./definition.ts";
import { recordPublished } from "./publish_journal.ts";
import { createWriteThroughHook, type WriteThroughRunReport } from "./write_through_hook.ts";
import { startCdn } from "./_test_server.ts";
import { exists, local } from "./_test_files.ts";

async function pass(hook: ReturnType<typeof createWriteThroughHook>, options: { now?: () => number; dryRun?: boolean; tracer?: ReturnType<typeof memorySpans>["tracer"]; registry?: Registry } = {}): Promise<WriteThroughRunReport> {
  const result = await createRunner(hook, { ...options, enabled: true }).runOnce();
  if (result.outcome !== "success" || !result.report) throw new Error(`pass ${result.outcome}: ${result.error ?? ""}`);
  return result.report;
}

describe("createWriteThroughHook()", () => {
  it("consumes the publish journal, deleting verified local copies once", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 10);
    const b = await local(dir.path, "videos/b.mp4", 20);
    cdn.objects.set("/images/a.png", { length: 10 });
    cdn.objects.set("/videos/b.mp4", { length: 20 });
    await recordPublished(dir.path, [{ path: "images/a.png", url: `${cdn.base}/images/a.png` }, { path: "videos/b.mp4" }]);
    const registry = new Registry();
    const { tracer, spans } = memorySpans();
    const hook = createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: `${cdn.base}/` }, registry });
    const report = await pass(hook, { registry, tracer });
    expect(report).toMatchObject({ removed: 2, reclaimedBytes: 30, read: 2, invalid: 0, pending: 0, removedByKind: { write_through: 2 } });
    expect(await exists(a)).toBe(false);
    expect(await exists(b)).toBe(false);
    expect((await spans())[0]?.name).toBe("verify upload");
    expect(await registry.getSingleMetricAsString("reclaim_removed_total")).toContain('reclaim_removed_total{hook="write-through",kind="write_through"} 2');
    // The position is durable: a new hook (a restarted daemon) does not read the same lines again.
    cdn.requests.length = 0;
    const again = await pass(createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: `${cdn.base}/` } }));
    expect(again.read).toBe(0);
    expect(cdn.requests).toEqual([]);
  });

  it("retries entries whose remote copy is not there yet, and gives up after retryFor", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 10);
    const b = await local(dir.path, "images/b.png", 10);
    await recordPublished(dir.path, [{ path: "images/a.png", url: `${cdn.base}/a.png` }, { path: "images/b.png", url: `${cdn.base}/b.png` }]);
    const hook = createWriteThroughHook({ root: dir.path, remote: { enabled: true }, retryFor: "1h" });
    let now = Date.now();
    const first = await pass(hook, { now: () => now });
    expect(first).toMatchObject({ removed: 0, pending: 2 });
    cdn.objects.set("/a.png", { length: 10 });
    now += 10 * 60_000;
    const second = await pass(hook, { now: () => now });
    expect(second).toMatchObject({ removed: 1, pending: 1, read: 0 });
    expect(await exists(a)).toBe(false);
    now += 2 * 3_600_000;
    const third = await pass(hook, { now: () => now });
    expect(third).toMatchObject({ removed: 0, pending: 0, dropped: 1 });
    expect(await exists(b)).toBe(true);
  });

  it("skips invalid lines, leaves a partial last line for the next pass and refuses URLs outside remote.baseUrl", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 4);
    const c = await local(dir.path, "images/c.png", 4);
    cdn.objects.set("/images/a.png", { length: 4 });
    cdn.objects.set("/images/c.png", { length: 4 });
    const journal = join(dir.path, ".reclaim", "published.jsonl");
    await mkdir(join(dir.path, ".reclaim"));
    await writeFile(journal, `not json\n{"url":"x"}\n{"path":"images/c.png","url":"https://evil.example/c.png"}\n{"path":"images/a.png"}\n{"path":"images/c.p`);
    const hook = createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: `${cdn.base}/` } });
    const first = await pass(hook);
    expect(first).toMatchObject({ read: 4, invalid: 3, removed: 1 });
    expect(await exists(a)).toBe(false);
    expect(await exists(c)).toBe(true);
    await appendFile(journal, `ng"}\n`);
    const second = await pass(hook);
    expect(second).toMatchObject({ read: 1, invalid: 0, removed: 1 });
    expect(await exists(c)).toBe(false);
  });

  it("trusts only URLs on the base's origin under its path, even when remote.baseUrl has no trailing slash", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const onPort = await local(dir.path, "images/port.png", 4);
    cdn.objects.set("/port.png", { length: 4 });
    await recordPublished(dir.path, [{ path: "images/port.png", url: `${cdn.base}/port.png` }]);
    // "http://127.0.0.1" is a string prefix of the loopback server's "http://127.0.0.1:<port>": another origin.
    const byPort = await pass(createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: "http://127.0.0.1" } }));
    expect(byPort).toMatchObject({ read: 1, invalid: 1, removed: 0 });
    expect(await exists(onPort)).toBe(true);
    expect(cdn.requests).toEqual([]);

    const sibling = await local(dir.path, "images/sibling.png", 4);
    const dotted = await local(dir.path, "images/dotted.png", 4);
    const good = await local(dir.path, "images/good.png", 4);
    cdn.objects.set("/media-private/sibling.png", { length: 4 });
    cdn.objects.set("/private/dotted.png", { length: 4 });
    cdn.objects.set("/media/images/good.png", { length: 4 });
    await recordPublished(dir.path, [
      { path: "images/sibling.png", url: `${cdn.base}/media-private/sibling.png` },
      { path: "images/dotted.png", url: `${cdn.base}/media/../private/dotted.png` },
      { path: "images/good.png", url: `${cdn.base}/media/images/good.png` },
    ]);
    const byPath = await pass(createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: `${cdn.base}/media` } }));
    expect(byPath).toMatchObject({ read: 3, invalid: 2, removed: 1 });
    expect(await exists(sibling)).toBe(true);
    expect(await exists(dotted)).toBe(true);
    expect(await exists(good)).toBe(false);
    expect(cdn.requests).toEqual(["HEAD /media/images/good.png"]);
  });

  it("percent-encodes each path segment of a line without url", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const hash = await local(dir.path, "images/a#b.png", 4);
    const spaced = await local(dir.path, "images/sub dir/c?d%.png", 6);
    // What the unencoded URL would have asked for: these must not be what decides.
    cdn.objects.set("/media/images/a", { length: 4 });
    cdn.objects.set("/media/images/a%23b.png", { length: 4 });
    cdn.objects.set("/media/images/sub%20dir/c%3Fd%25.png", { length: 6 });
    await recordPublished(dir.path, [{ path: "images/a#b.png" }, { path: "images/sub dir/c?d%.png" }]);
    const report = await pass(createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: `${cdn.base}/media` } }));
    expect(report).toMatchObject({ read: 2, invalid: 0, removed: 2 });
    expect(await exists(hash)).toBe(false);
    expect(await exists(spaced)).toBe(false);
    expect(cdn.requests.sort()).toEqual(["HEAD /media/images/a%23b.png", "HEAD /media/images/sub%20dir/c%3Fd%25.png"]);
  });

  it("never deletes the journal, its state, protected files or files outside the media folders named by journal lines", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const hook = createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: cdn.base } });
    await recordPublished(dir.path, [{ path: "images/first.png" }]);
    await pass(hook); // writes the state file
    const journal = join(dir.path, ".reclaim", "published.jsonl");
    const victims = ["posts.json", "app.db", "images/node-keypair", "images/tls.key"];
    for (const rel of victims) await local(dir.path, rel, 5);
    const ok = await local(dir.path, "videos/ok.mp4", 5);
    await recordPublished(dir.path, [...victims, ".reclaim/published.jsonl", ".reclaim/published.jsonl.state", "videos/ok.mp4"].map((path) => ({ path })));
    // A remote "copy" of each, the same size as the local file.
    for (const rel of [...victims, "videos/ok.mp4"]) cdn.objects.set(`/${rel}`, { length: 5 });
    cdn.objects.set("/.reclaim/published.jsonl", { length: (await stat(journal)).size });
    cdn.objects.set("/.reclaim/published.jsonl.state", { length: (await stat(`${journal}.state`)).size });
    cdn.requests.length = 0;
    const report = await pass(hook);
    expect(report).toMatchObject({ read: 7, invalid: 0, removed: 1, pending: 0, refusedCount: 6 });
    expect(report.refused.map((r) => r.reason)).toEqual([
      'protected (matches "*.json")',
      "not inside an allowed folder",
      'protected (matches "*keypair*")',
      'protected (matches "*.key")',
      "the publish journal or its state",
      "the publish journal or its state",
    ]);
    for (const rel of victims) expect(await exists(join(dir.path, rel)), rel).toBe(true);
    expect(await exists(journal)).toBe(true);
    expect(await exists(`${journal}.state`)).toBe(true);
    expect(await exists(ok)).toBe(false);
    expect(cdn.requests).toEqual(["HEAD /videos/ok.mp4"]);
  });

  it("refuses mediaDirs \".\" at creation, so a journal line naming events.jsonl can never delete it", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const log = await local(dir.path, "events.jsonl", 5);
    cdn.objects.set("/events.jsonl", { length: 5 });
    expect(() => createWriteThroughHook({ root: dir.path, mediaDirs: ["."], remote: { enabled: true, baseUrl: cdn.base } })).toThrow(
      /Cannot create write-through hook as 'mediaDirs\[0\]' must be a folder inside the root, not the root itself/,
    );
    await recordPublished(dir.path, [{ path: "events.jsonl" }]);
    const report = await pass(createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: cdn.base } }));
    expect(report).toMatchObject({ removed: 0, refusedCount: 1, refused: [{ path: "events.jsonl", reason: "not inside an allowed folder" }] });
    expect(await exists(log)).toBe(true);
    expect(cdn.requests).toEqual([]);
  });

  it("reports which check each deletion passed, and keeps a same-size copy whose checksum differs", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 6);
    const b = await local(dir.path, "images/b.png", 6);
    const c = await local(dir.path, "images/c.png", 6);
    const md5 = (data: Buffer) => createHash("md5").update(data).digest("hex");
    cdn.objects.set("/images/a.png", { length: 6, headers: { etag: `"${md5(Buffer.alloc(6, 1))}"` } });
    cdn.objects.set("/images/b.png", { length: 6 });
    cdn.objects.set("/images/c.png", { length: 6, headers: { etag: `"${md5(Buffer.alloc(6, 2))}"` } });
    await recordPublished(dir.path, ["a", "b", "c"].map((n) => ({ path: `images/${n}.png` })));
    const report = await pass(createWriteThroughHook({ root: dir.path, remote: { enabled: true, baseUrl: cdn.base } }));
    expect(report).toMatchObject({ removed: 2, checks: { checksum: 1, size: 1 }, pending: 1 });
    expect(report.deleted.sort((x, y) => x.path.localeCompare(y.path))).toEqual([
      { path: "images/a.png", check: "checksum", detail: "ETag (MD5)" },
      { path: "images/b.png", check: "size", detail: "Content-Length only: the remote states no content checksum" },
    ]);
    expect(report.kept).toEqual([{ path: "images/c.png", reason: expect.stringMatching(/^remote ETag \(MD5\) [0-9a-f]{32} differs from the local file's md5 [0-9a-f]{32}: same size, different content$/) }]);
    expect([await exists(a), await exists(b), await exists(c)]).toEqual([false, false, true]);
  });

  it("truncates the journal once it is fully consumed and big enough, and restarts on a replaced journal", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    await local(dir.path, "images/a.png", 4);
    cdn.objects.set("/images/a.png", { length: 4 });
    await recordPublished(dir.path, [{ path: "images/a.png", url: `${cdn.base}/images/a.png` }]);
    const hook = createWriteThroughHook({ root: dir.path, remote: { enabled: true }, trimBytes: 1 });
    const first = await pass(hook);
    expect(first).toMatchObject({ removed: 1, trimmed: true });
    const journal = join(dir.path, ".reclaim", "published.jsonl");
    expect((await stat(journal)).size).toBe(0);
    expect(JSON.parse(await readFile(`${journal}.state`, "utf8"))).toMatchObject({ offset: 0, pending: [] });
    const b = await local(dir.path, "images/b.png", 4);
    cdn.objects.set("/images/b.png", { length: 4 });
    await recordPublished(dir.path, [{ path: "images/b.png", url: `${cdn.base}/images/b.png` }]);
    expect(await pass(hook)).toMatchObject({ removed: 1, read: 1 });
    expect(await exists(b)).toBe(false);
  });

  it("dry run verifies, deletes nothing and does not move the position", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 4);
    cdn.objects.set("/images/a.png", { length: 4 });
    await recordPublished(dir.path, [{ path: "images/a.png", url: `${cdn.base}/images/a.png` }]);
    const hook = createWriteThroughHook({ root: dir.path, remote: { enabled: true } });
    expect(await pass(hook, { dryRun: true })).toMatchObject({ removed: 1, read: 1 });
    expect(await exists(a)).toBe(true);
    expect(await pass(hook)).toMatchObject({ removed: 1, read: 1 });
    expect(await exists(a)).toBe(false);
  });

  it("does nothing while the remote is disabled", async () => {
    await using dir = await tempDir("wt-hook-");
    await using cdn = await startCdn();
    const a = await local(dir.path, "images/a.png", 4);
    cdn.objects.set("/images/a.png", { length: 4 });
    await recordPublished(dir.path, [{ path: "images/a.png", url: `${cdn.base}/images/a.png` }]);
    const report = await pass(createWriteThroughHook({ root: dir.path }));
    expect(report).toMatchObject({ removed: 0, reason: "remote.enabled is false" });
    expect(await exists(a)).toBe(true);
    expect(cdn.requests).toEqual([]);
  });

  it("rejects bad options naming the field and the value", () => {
    expect(() => createWriteThroughHook({ root: "/data", remote: { enabled: true, baseUrl: "cdn.example" } })).toThrow(
      "Cannot create write-through hook as 'remote.baseUrl' must be an http(s) URL: current value is \"cdn.example\"",
    );
    expect(() => createWriteThroughHook({ root: "/data", remote: { enabled: true, baseUrl: "https://user:pw@cdn.example" } })).toThrow(/'remote.baseUrl' must be an http\(s\) URL without credentials/);
    expect(() => createWriteThroughHook({ root: "/data", journal: "../x.jsonl" })).toThrow(/'journal' must be a path relative to the root/);
  });
});

describe("writeThroughDefinition", () => {
  it("is off in the embedded default unless RECLAIM_REMOTE_BASE_URL is set", () => {
    const env = { env: {}, dataDir: "/srv/.data", logger: silentLogger, registry: new Registry() };
    expect(writeThroughDefinition.embeddedDefault?.(env)).toBeUndefined();
    expect(writeThroughDefinition.embeddedDefault?.({ ...env, env: { RECLAIM_REMOTE_BASE_URL: "https://cdn.example/" } })).toEqual({
      root: "/srv/.data",
      remote: { enabled: true, baseUrl: "https://cdn.example/" },
    });
    expect(writeThroughDefinition.options.parse({ root: "/data" })).toEqual({
      root: "/data",
      journal: ".reclaim/published.jsonl",
      mediaDirs: ["images", "videos", "voice", "bid-images"],
      protect: ["*.json", "*keypair*", "*.key"],
      remote: { enabled: false },
      verify: "checksum",
      timeout: 10_000,
      concurrency: 4,
      retryFor: 86_400_000,
      maxEntriesPerPass: 10_000,
      trimBytes: 1_048_576,
    });
  });
});
