// Age sweep vs `find ROOT -type f -mmin +10080 -delete`, and audit vs `du -sb ROOT`, on identical trees of
// 200,000 files (half older than maxAge) on a tmpfs, alternating ours and the baseline (A B A B).
//
//   npx tsc -b packages/disk && node packages/disk/bench/sweep_bench.mjs [--rounds 5] [--files 200000] [--threads N]
//
// Needs root (mounts a 2 GiB tmpfs) unless BENCH_DIR names an existing folder (then the figures are only
// comparable on a tmpfs). Each of ours runs in a fresh process (bench/_child.mjs): the time is measured
// inside it (no Node start-up), the peak memory is that process's max RSS. Baselines are timed around spawnSync
// and their peak memory comes from /usr/bin/time.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { buildTree } from "./_tree.mjs";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, files: { type: "string", default: "200000" }, threads: { type: "string" } } });
const rounds = Number(values.rounds);
const files = Number(values.files);
const child = fileURLToPath(new URL("./_child.mjs", import.meta.url));

let base = process.env.BENCH_DIR;
let mounted = false;
if (!base) {
  base = mkdtempSync(join(tmpdir(), "reclaim-bench-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2g,nr_inodes=2000000", "tmpfs", base]);
  mounted = true;
}

function ours(op, dir) {
  const args = [child, op, dir];
  if (values.threads !== undefined) args.push(values.threads);
  const out = execFileSync(process.execPath, args, { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}

function baseline(cmd, args) {
  const started = performance.now();
  const result = spawnSync("/usr/bin/time", ["-f", "%M %U %S", cmd, ...args], { encoding: "utf8" });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr}`);
  const [rssKb, user, sys] = result.stderr.trim().split("\n").pop().split(" ").map(Number);
  return { ms: Math.round(ms), cpuMs: Math.round((user + sys) * 1000), maxRssMiB: Math.round(rssKb / 1024) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fresh = (name) => {
  const dir = join(base, name);
  rmSync(dir, { recursive: true, force: true });
  buildTree(dir, files);
  return dir;
};

const samples = { sweep: [], find: [], audit: [], du: [] };
try {
  for (let r = 0; r < rounds; r++) {
    // Age sweep vs find -delete: each on its own fresh, identical tree.
    const a = ours("sweep", fresh("ours"));
    samples.sweep.push(a);
    const findDir = fresh("find");
    samples.find.push(baseline("find", [findDir, "-type", "f", "-mmin", "+10080", "-delete"]));
    if (a.removed !== files / 2) throw new Error(`ours removed ${a.removed}, expected ${files / 2}`);
    // Audit vs du -sb on one full tree (rebuilt each round so the page cache state is the same for both).
    const auditDirPath = fresh("audit");
    samples.audit.push(ours("audit", auditDirPath));
    samples.du.push(baseline("du", ["-sb", auditDirPath]));
    rmSync(join(base, "ours"), { recursive: true, force: true });
    rmSync(join(base, "find"), { recursive: true, force: true });
    console.error(`round ${r + 1}/${rounds}: sweep ${a.ms} ms, find ${samples.find.at(-1).ms} ms, audit ${samples.audit.at(-1).ms} ms, du ${samples.du.at(-1).ms} ms`);
  }
} finally {
  if (mounted) {
    execFileSync("umount", ["-l", base]);
    rmSync(base, { recursive: true, force: true });
  }
}

const m = (k) => median(samples[k].map((s) => s.ms));
const peak = (k) => Math.max(...samples[k].map((s) => s.maxRssMiB));
const cpu = (k) => median(samples[k].map((s) => s.cpuMs));
const table = [
  { case: `age sweep (${files} files, half old)`, ours_ms: m("sweep"), baseline: "find -type f -mmin +10080 -delete", baseline_ms: m("find"), ratio: +(m("sweep") / m("find")).toFixed(2), ours_cpu_ms: cpu("sweep"), baseline_cpu_ms: cpu("find"), ours_peak_MiB: peak("sweep"), baseline_peak_MiB: peak("find") },
  { case: `audit (${files} files)`, ours_ms: m("audit"), baseline: "du -sb", baseline_ms: m("du"), ratio: +(m("audit") / m("du")).toFixed(2), ours_cpu_ms: cpu("audit"), baseline_cpu_ms: cpu("du"), ours_peak_MiB: peak("audit"), baseline_peak_MiB: peak("du") },
];
console.table(table);
console.log(`load average at the end: ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")} on ${(await import("node:os")).availableParallelism()} cores`);
console.log(JSON.stringify({ rounds, files, threads: values.threads ?? "default", samples }, null, 0));
