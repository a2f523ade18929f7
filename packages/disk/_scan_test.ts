import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, lstatSync, realpathSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { scanTrees, startScanWorker } from "./_scan.ts";
import { makeChunkProcessor, type ChunkResult, type ChunkTask } from "./_scan_chunk.ts";
import { chunkConfig } from "./_scan_config.ts";
import { DAY, file } from "./_test_fixtures.ts";

/** A tree of `count` files in `images` (every third one young) and one subfolder. */
async function tree(root: string, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => file(root, `images/${i % 2 ? "sub/" : ""}f${i}.png`, i % 3 ? 10 * DAY : DAY, i)));
}

describe("startScanWorker()", () => {
  it("loads the worker module and answers a chunk exactly as the calling thread does", async () => {
    await using dir = await tempDir("disk-worker-");
    await tree(dir.path, 40);
    const root = realpathSync(dir.path);
    const config = chunkConfig("collect", { root, rootDev: lstatSync(root).dev, minAge: 7 * DAY, recentlyModified: 60_000 });
    const task: ChunkTask = { dir: join(root, "images"), names: ["f0.png", "f2.png", "f3.png", "sub", "ghost.png"] };
    const worker = startScanWorker(config);
    try {
      // A worker whose module fails to load (a bad import, a missing file) emits "error" instead of "message".
      const failed = once(worker, "error").then(([err]) => Promise.reject(err as Error));
      worker.postMessage(task);
      const [answer] = (await Promise.race([once(worker, "message"), failed])) as [ChunkResult];
      expect(answer).toEqual(makeChunkProcessor(config)(task));
      expect(answer.candidates?.paths).toEqual([join(root, "images/f2.png")]);
    } finally {
      await worker.terminate();
    }
  });
});

describe("scanTrees()", () => {
  it.each([1, 2])("gives the same totals with %i worker threads as on the calling thread alone", async (threads) => {
    await using dir = await tempDir("disk-worker-");
    await tree(dir.path, 3000);
    const root = realpathSync(dir.path);
    const config = chunkConfig("audit", { root, rootDev: lstatSync(root).dev });
    const alone = await scanTrees([root], config, { threads: 0 });
    let chunks = 0;
    const pooled = await scanTrees([root], config, { threads, onResult: () => void chunks++ });
    expect(pooled).toEqual(alone);
    expect(alone).toMatchObject({ files: 3000, directories: 3 });
    // 3000 names in chunks of 512: more chunks than the calling thread takes alone, so the workers answered some.
    expect(chunks).toBeGreaterThan(5);
  });

  const dist = fileURLToPath(new URL("./dist/mod.js", import.meta.url));
  it.skipIf(!existsSync(dist))("walks with worker threads from the built package (dist, after a build)", async () => {
    await using dir = await tempDir("disk-worker-");
    await tree(dir.path, 600);
    const script = join(dir.path, "audit.mjs");
    await writeFile(script, `const { auditDir } = await import(${JSON.stringify(dist)}); const r = await auditDir(process.argv[2], { threads: 1 }); console.log(JSON.stringify({ files: r.files, bytes: r.totalBytes }));`);
    const out = execFileSync(process.execPath, [script, join(dir.path, "images")], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual({ files: 600, bytes: (599 * 600) / 2 });
  });
});
