import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { DATA, type Daemon, dumpLogsIfFailed, eventually, type LogLine, startDaemon } from "../_daemon.ts";
import type { Images } from "../_images.ts";

// The incident in ../shared/seeds/tee-volume-gc-pr.txt: a service's /app/.data (here a 100 MB tmpfs) fills up
// with a growing events.jsonl and media; no CDN holds copies, so the only way back is rotation and the pressure
// sweep — which must spare fresh media, the JSON stores and the keypair, and must not leave posts.json pointing at
// deleted media. The daemon runs its embedded default; only the cadence comes from the environment.
const EVENTS = `${DATA}/events.jsonl`;
const POSTS = `${DATA}/posts.json`;
const KEYPAIR = `${DATA}/agent-keypair.json`;
const IMAGES = `${DATA}/images`;
const MAX_BYTES = 50 * 1024 * 1024; // the embedded default's event-log limit
const KEEP_LINES = 10_000;
const HIGH = 0.7;
const LOW = 0.6;

interface Usage {
  ratio: number;
}
interface Post {
  id: number;
  imageUrl: string | null;
}

const name = (prefix: string, i: number) => `${prefix}-${String(i).padStart(3, "0")}.png`;
const posts: Post[] = [
  ...[0, 1, 2, 3, 4, 5].map((i) => ({ id: i + 1, imageUrl: `/images/${name("old", i)}` })),
  { id: 7, imageUrl: "/images/fresh.png" },
  // Phase 2's media, named before it exists, the way a feed names media a generator is still writing.
  ...[0, 1, 2, 3].map((i) => ({ id: 8 + i, imageUrl: `/images/${name("recent", i)}` })),
];

const passes = (lines: LogLine[], hook: string, after = 0) =>
  lines.filter((l) => l.hook === hook && l.msg === "pass finished" && (l.time ?? 0) > after);

/** Scenario "no CDN": a 100 MB volume past 70 % full, twice. */
export function noCdnScenario(images: Images): void {
  describe("no CDN: a 100 MB tmpfs past 70 % full", () => {
    let daemon: Daemon | undefined;

    beforeAll(async () => {
      daemon = await startDaemon({
        image: images.daemon,
        env: { RECLAIM_INTERVAL: "2s", RECLAIM_INITIAL_DELAY: "1s" },
        // Phase 1, seeded before reclaim starts: 60 MB of events, twelve 1 MB media files aged 10 days, a fresh
        // one, posts.json, a keypair: 73 % of the volume.
        seed: [
          ["events", EVENTS, "60MiB", "512"],
          ["media", IMAGES, "old-%.png", "12", "1MiB", "10d"],
          ["media", IMAGES, "fresh.png", "1", "1MiB", "0"],
          ["write", POSTS, JSON.stringify(posts, null, 2), "10d"],
          ["write", KEYPAIR, JSON.stringify({ publicKey: "e2e", secretKey: "e2e" }), "30d"],
        ],
      });
    });
    afterEach((ctx) => dumpLogsIfFailed(ctx.task.result?.state, daemon));
    afterAll(async () => {
      await daemon?.stop();
    });

    test("phase 1: the first event-log pass trims events.jsonl below its limit to at most keepLines valid JSON lines", async () => {
      const d = daemon!;
      await eventually(async () => expect(passes(d.logLines(), "event-log")).not.toHaveLength(0));
      const first = passes(d.logLines(), "event-log")[0]!;
      expect(first.reclaimedBytes).toBeGreaterThan(MAX_BYTES / 10);

      const summary = await d.seed<{ bytes: number; lines: number; invalid: number }>("events-summary", EVENTS);
      expect(summary.bytes).toBeLessThan(MAX_BYTES);
      expect(summary.lines).toBeGreaterThan(0);
      expect(summary.lines).toBeLessThanOrEqual(KEEP_LINES);
      expect(summary.invalid).toBe(0);
      // The first disk pass ran too (whether it still saw 73 % depends on which hook finished first).
      await eventually(async () => expect(passes(d.logLines(), "disk")).not.toHaveLength(0));
      expect((await d.seed<Usage>("usage", DATA)).ratio).toBeLessThan(HIGH);
    });

    test("phase 2: media aged 2 days past 70 % is swept under the low watermark within a cycle, sparing what must stay", async () => {
      const d = daemon!;
      const filled = await d.seed<{ files: string[]; ratio: number }>("fill", IMAGES, "recent-%.png", "1MiB", "2d", String(HIGH + 0.02));
      const filledAt = Date.now();
      expect(filled.ratio).toBeGreaterThan(HIGH);
      expect(filled.files.length).toBeGreaterThan(10);

      // Wait until usage is under the low watermark and the pass of the last pressure sweep has ended (references
      // are cleared after the deletions, within the same pass).
      const sweeps = await eventually(async () => {
        expect((await d.seed<Usage>("usage", DATA)).ratio).toBeLessThan(LOW);
        const lines = d.logLines();
        const found = lines.filter((l) => l.hook === "disk" && l.reachedLow === true && l.usedRatioBefore !== undefined && (l.time ?? 0) > filledAt);
        expect(found, "a pressure sweep that reached the low watermark").not.toHaveLength(0);
        expect(passes(lines, "disk", found.at(-1)!.time! - 1)).not.toHaveLength(0);
        return found;
      });
      // Within one short cycle: at most one disk pass ended between the fill and the first sweep after it.
      expect(passes(d.logLines(), "disk", filledAt).filter((l) => (l.time ?? 0) < sweeps[0]!.time!).length).toBeLessThanOrEqual(1);

      const files = new Set((await d.seed<{ path: string }[]>("files", DATA)).map((f) => f.path));
      expect(files).toContain(`${IMAGES}/fresh.png`);
      expect(files).toContain(POSTS);
      expect(files).toContain(KEYPAIR);
      expect(files).toContain(EVENTS);
      const recentLeft = filled.files.filter((f) => files.has(f));
      expect(recentLeft.length, "the sweep deletes only what it needs").toBeGreaterThan(0);
      expect(recentLeft.length).toBeLessThan(filled.files.length);

      const feed = JSON.parse((await d.seed<string>("read", POSTS))!) as Post[];
      expect(feed.map((p) => p.id)).toEqual(posts.map((p) => p.id));
      for (const post of feed) {
        if (post.imageUrl !== null) expect(files, `post ${post.id} points at ${post.imageUrl}`).toContain(`${DATA}${post.imageUrl}`);
      }
      expect(feed.find((p) => p.id === 7)?.imageUrl).toBe("/images/fresh.png");
      // Posts whose media was swept were cleared, not left dangling: the old ones, and recent ones that went.
      expect(feed.filter((p) => p.imageUrl === null).length).toBeGreaterThanOrEqual(6);
    });

    test("/metrics shows the rotation, the pressure sweeps and what they reclaimed", async () => {
      const metrics = await daemon!.metrics(); // phase 2 waited for the end of the sweep's pass
      expect(metrics.sum("reclaim_event_log_rotations_total")).toBeGreaterThanOrEqual(1);
      expect(metrics.sum("reclaim_disk_pressure_sweeps_total")).toBeGreaterThanOrEqual(1);
      expect(metrics.sum("reclaim_hook_runs_total", { hook: "event-log", outcome: "success" })).toBeGreaterThanOrEqual(1);
      expect(metrics.sum("reclaim_hook_runs_total", { hook: "disk", outcome: "success" })).toBeGreaterThanOrEqual(2);
      expect(metrics.sum("reclaim_hook_runs_total", { outcome: "failure" })).toBe(0);
      expect(metrics.sum("reclaim_reclaimed_bytes_total", { hook: "event-log" })).toBeGreaterThan(MAX_BYTES / 10);
      expect(metrics.sum("reclaim_removed_total", { hook: "disk" })).toBeGreaterThanOrEqual(12);
      expect(metrics.sum("reclaim_disk_references_cleared_total")).toBeGreaterThanOrEqual(6);
      const ratio = metrics.sum("reclaim_disk_used_ratio");
      expect(ratio).toBeGreaterThan(0);
      expect(ratio).toBeLessThan(LOW);
    });
  });
}
