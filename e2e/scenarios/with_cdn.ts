import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { GenericContainer, Network, type StartedNetwork, type StartedTestContainer, Wait } from "testcontainers";
import { DATA, type Daemon, dumpLogsIfFailed, eventually, startDaemon } from "../_daemon.ts";
import type { Images } from "../_images.ts";
import { mediaBytes } from "../_media.ts";

// The write-through half of the seed: when a CDN holds the published copy, the local one can go — but only once
// a HEAD on the CDN proves the copy is there with the same size. A real HTTP server (busybox httpd in its own
// container, reached by name on a private network) plays the CDN; the daemon runs its embedded default with
// RECLAIM_REMOTE_BASE_URL set, which turns on the write-through hook and the disk hook's remote mode. Files are
// reported as published the way a service does, through @reclaim/write-through's recordPublished()
// (docker/writer/publish.mjs), which appends to the publish journal the hook consumes.
const SIZE = 256 * 1024;
const PUBLISH = "/app/writer/publish.mjs"; // the service's end-of-publish step: recordPublished()
const local = (path: string) => `${DATA}/${path}`;

const onCdn = ["images/verified.png", "videos/verified.mp4", "images/unpublished.png"];
const published = [
  { path: "images/verified.png" }, // on the CDN, same size: deleted
  { path: "videos/verified.mp4" }, // on the CDN, same size: deleted
  { path: "images/missing.png" }, // not on the CDN: stays
  { path: "images/short.png" }, // on the CDN one byte short: stays
  { path: "images/late.png" }, // not on the CDN until the test uploads it: stays until then
  { path: "images/foreign.png", url: "http://elsewhere.invalid/images/foreign.png" }, // not under the base URL: refused
];
const allLocal = [...new Set([...published.map((p) => p.path), "images/unpublished.png"])];

function cdnFile(path: string, bytes = SIZE) {
  return { content: mediaBytes(path.split("/").pop()!, bytes), target: `/www/${path}` };
}

/** Scenario "with CDN": media reported as published is deleted only after its CDN copy is verified. */
export function withCdnScenario(images: Images): void {
  describe("with CDN: write-through deletes a local copy only after verifying the remote one", () => {
    let network: StartedNetwork | undefined;
    let cdn: StartedTestContainer | undefined;
    let cdnLogs = "";
    let daemon: Daemon | undefined;

    beforeAll(async () => {
      network = await new Network().start();
      cdn = await new GenericContainer(images.busybox)
        .withNetwork(network)
        .withNetworkAliases("cdn")
        .withCopyContentToContainer([
          { content: "ok\n", target: "/www/ok.txt" },
          ...onCdn.map((path) => cdnFile(path)),
          cdnFile("images/short.png", SIZE - 1),
        ])
        .withCommand(["httpd", "-f", "-vv", "-p", "80", "-h", "/www"])
        .withLogConsumer((stream) => stream.on("data", (chunk: Buffer | string) => (cdnLogs += chunk.toString())))
        .withWaitStrategy(Wait.forSuccessfulCommand("wget -q -O /dev/null http://127.0.0.1/ok.txt"))
        .start();
      // The local media must be the same bytes as the CDN's (short.png aside): seed.mjs writes sha256(name) repeated.
      const media = allLocal.map((path) => {
        const [dir, name] = path.split("/") as [string, string];
        return ["media", local(dir), name, "1", String(SIZE), "2h"];
      });
      daemon = await startDaemon({
        image: images.daemon,
        network,
        env: { RECLAIM_REMOTE_BASE_URL: "http://cdn/", RECLAIM_INTERVAL: "2s", RECLAIM_INITIAL_DELAY: "1s" },
        seed: [...media, ["media", local("images"), "new.png", "1", String(SIZE), "2h"]],
        commands: [["node", PUBLISH, ...published.map((p) => (p.url ? `${p.path}=${p.url}` : p.path))]],
      });
    });
    afterEach((ctx) => dumpLogsIfFailed(ctx.task.result?.state, daemon));
    afterAll(async () => {
      await daemon?.stop();
      await cdn?.stop({ remove: true });
      await network?.stop();
    });

    const present = async () => new Set((await daemon!.seed<{ path: string }[]>("files", DATA)).map((f) => f.path));

    test("files whose CDN copy is verified are deleted; missing, short, unpublished and foreign ones stay", async () => {
      await eventually(async () => {
        const files = await present();
        expect(files).not.toContain(local("images/verified.png"));
        expect(files).not.toContain(local("videos/verified.mp4"));
      });
      const files = await present();
      for (const path of ["images/missing.png", "images/short.png", "images/late.png", "images/unpublished.png", "images/foreign.png", "images/new.png"]) {
        expect(files, path).toContain(local(path));
      }
      // Each deletion followed a request to the CDN for that very file.
      expect(cdnLogs).toContain("url:/images/verified.png");
      expect(cdnLogs).toContain("url:/videos/verified.mp4");
      // The foreign URL was refused without a request; an unpublished file is never asked about.
      expect(cdnLogs).not.toContain("foreign.png");
      expect(cdnLogs).not.toContain("unpublished.png");
    });

    test("a file whose copy is missing stays through retries and goes once the copy is uploaded", async () => {
      await eventually(async () => expect(cdnLogs.split("url:/images/late.png").length - 1).toBeGreaterThanOrEqual(2));
      expect(await present()).toContain(local("images/late.png"));

      await cdn!.copyContentToContainer([cdnFile("images/late.png")]);
      await eventually(async () => expect(await present()).not.toContain(local("images/late.png")));
      const files = await present();
      expect(files).toContain(local("images/missing.png"));
      expect(files).toContain(local("images/short.png"));
    });

    test("the service's usual order — upload, then record as published — gets the local copy deleted", async () => {
      expect(await present()).toContain(local("images/new.png"));
      await cdn!.copyContentToContainer([cdnFile("images/new.png")]);
      await daemon!.exec(["node", PUBLISH, "images/new.png"]);
      await eventually(async () => expect(await present()).not.toContain(local("images/new.png")));
      expect(cdnLogs).toContain("url:/images/new.png");
    });

    test("/metrics counts verified deletions and kept files", async () => {
      // The runner counts a pass's deletions when the pass ends, possibly just after the file went: wait for it.
      await eventually(async () => {
        const metrics = await daemon!.metrics();
        expect({
          deleted: metrics.sum("reclaim_write_through_files_total", { outcome: "deleted" }),
          removedByRunner: metrics.sum("reclaim_removed_total", { hook: "write-through" }),
          bytes: metrics.sum("reclaim_disk_removed_bytes_total", { kind: "write_through" }),
          failedPasses: metrics.sum("reclaim_hook_runs_total", { hook: "write-through", outcome: "failure" }),
        }).toEqual({ deleted: 4, removedByRunner: 4, bytes: 4 * SIZE, failedPasses: 0 });
        expect(metrics.sum("reclaim_write_through_files_total", { outcome: "kept" })).toBeGreaterThanOrEqual(2);
      });
    });
  });
}
