// Scale check: 1,000,000 files (half older than 7 days) — audit, pressure sweep and age sweep, each in a fresh
// process, reporting its peak memory (max RSS). The requirement is < 300 MB.
//
//   npx tsc -b packages/disk && node packages/disk/bench/scale_bench.mjs [--files 1000000]
//
// Needs root (mounts a tmpfs). Files are empty so that a million of them fit in memory; memory use of the walk
// depends on the number of entries, not their size. For the pressure sweep a 96 MiB filler outside the media
// folders pushes the 1 GiB tmpfs above pressure.high (5%): the empty media files cannot free anything, so the
// sweep takes every eligible file (500,000) oldest first in rounds of 100,000 — its worst case for memory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { buildTree } from "./_tree.mjs";

const { values } = parseArgs({ options: { files: { type: "string", default: "1000000" } } });
const files = Number(values.files);
const child = fileURLToPath(new URL("./_child.mjs", import.meta.url));
const base = mkdtempSync(join(tmpdir(), "reclaim-scale-"));
execFileSync("mount", ["-t", "tmpfs", "-o", "size=1g,nr_inodes=4000000", "tmpfs", base]);

const run = (op, dir, env = {}) => JSON.parse(execFileSync(process.execPath, [child, op, dir], { encoding: "utf8", env: { ...process.env, ...env } }).trim().split("\n").pop());
const results = [];
try {
  const root = join(base, "data");
  let t = performance.now();
  buildTree(root, files, { bytes: 0 });
  console.error(`built ${files} files in ${Math.round(performance.now() - t)} ms`);
  results.push(run("audit", root));
  writeFileSync(join(root, "filler.bin"), Buffer.alloc(96 * 1024 * 1024, 1));
  results.push(run("pressure", root, { BENCH_HIGH: "0.05", BENCH_LOW: "0.01" }));
  rmSync(join(root, "filler.bin"));
  t = performance.now();
  buildTree(root, files, { bytes: 0 });
  console.error(`rebuilt in ${Math.round(performance.now() - t)} ms`);
  results.push(run("sweep", root));
} finally {
  execFileSync("umount", ["-l", base]);
  rmSync(base, { recursive: true, force: true });
}
console.table(results.map((r) => ({ op: r.op, ms: r.ms, maxRssMiB: r.maxRssMiB, files: r.files ?? r.removed, detail: r.pressure ? JSON.stringify(r.pressure) : "" })));
