// Benchmark: trimToLastLines() vs `tail -n 10000 FILE > TMP && mv TMP FILE` on identical files, same run.
//
//   npx tsc -b packages/event-log && node packages/event-log/bench/trim_bench.mjs [--rounds 7] [--disk]
//
// Fixtures (1 GiB and 100 MiB of ~250-byte JSON lines) are generated on a tmpfs mounted for the run (needs root;
// --disk, or no root, uses the OS temp folder instead) and removed afterwards. Runs alternate ours / baseline
// (A B A B) and medians are reported. Each trim of ours runs in a fresh `node` process (bench/trim_child.mjs) that
// reports the trim's own time, the time until the new file was in place, and its peak RSS; "as a command" adds
// that process's start-up. Replacing a file makes the kernel free the old one's pages (page cache or tmpfs), in
// proportion to its size: `mv` pays that inside rename(2), we pay it when we close the old file after the swap.
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf("--rounds") + 1] ?? 0) || 7;
const onDisk = args.includes("--disk");
const KEEP = 10_000;
const MAX_BYTES = 50 * 1024 * 1024;
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const child = fileURLToPath(new URL("./trim_child.mjs", import.meta.url));

const root = mkdtempSync(join(tmpdir(), "event-log-bench-"));
let mounted = false;
if (!onDisk && process.getuid?.() === 0) {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=3g", "tmpfs", root], { stdio: "pipe" });
    mounted = true;
  } catch (err) {
    console.error(`no tmpfs (${err.message.split("\n")[0]}); using ${root}`);
  }
}

function generate(path, bytes) {
  const fd = openSync(path, "w");
  let n = 0;
  for (let written = 0; written < bytes; ) {
    const lines = [];
    for (let size = 0; size < 4 * MiB && written + size < bytes; ) {
      const head = `{"at":"2026-11-21T21:${String(n % 60).padStart(2, "0")}:00.000Z","type":"post.published","id":${n},"pad":"`;
      const line = `${head}${"x".repeat(Math.max(1, 245 - head.length + (n % 11)))}"}\n`;
      lines.push(line);
      size += line.length;
      n++;
    }
    const chunk = Buffer.from(lines.join(""));
    writeSync(fd, chunk);
    written += chunk.length;
  }
  closeSync(fd);
  return n;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A fresh copy of the fixture, written back to the device first so that neither side pays for that writeback. */
function prepare(fixture, work) {
  copyFileSync(fixture, work);
  execFileSync("sync", [work]);
}

function ours(fixture, work) {
  prepare(fixture, work);
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [child, work, String(KEEP), String(MAX_BYTES)], { encoding: "utf8" });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) throw new Error(`trim child failed: ${run.stderr}`);
  const report = JSON.parse(run.stdout);
  if (report.outcome !== "rotated") throw new Error(`expected a rotation, got ${report.outcome}`);
  return { ...report, wallMs, content: readFileSync(work) };
}

function baseline(fixture, work) {
  prepare(fixture, work);
  const started = process.hrtime.bigint();
  const run = spawnSync("sh", ["-c", 'tail -n 10000 "$1" > "$1.tmp" && mv "$1.tmp" "$1"', "sh", work]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) throw new Error(`baseline failed: ${run.stderr}`);
  return { ms, content: readFileSync(work) };
}

try {
  const big = join(root, "fixture-1g.jsonl");
  const small = join(root, "fixture-100m.jsonl");
  const lines = generate(big, GiB);
  generate(small, 100 * MiB);
  console.log(`fixtures on ${mounted ? "a tmpfs" : root}: 1 GiB (${lines} lines, ~${Math.round(GiB / lines)} B/line) and 100 MiB; keep ${KEEP} lines; ${rounds} rounds, alternating ours / tail`);

  const work = join(root, "events.jsonl");
  const samples = {};
  const add = (key, value) => (samples[key] ??= []).push(value);
  for (let round = 0; round < rounds; round++) {
    for (const [size, fixture] of [["1g", big], ["100m", small]]) {
      const a = ours(fixture, work);
      const b = baseline(fixture, work);
      if (!a.content.equals(b.content)) throw new Error(`ours and tail -n kept different bytes (${size})`);
      add(`ours_${size}`, a.ms);
      add(`swap_${size}`, a.swapMs);
      add(`wall_${size}`, a.wallMs);
      add(`rss_${size}`, a.maxRss);
      add(`tail_${size}`, b.ms);
    }
  }
  const m = Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, median(values)]));
  const row = (label, value) => console.log(`  ${label.padEnd(70)} ${value}`);
  const ms = (value) => `${value.toFixed(1)} ms`;
  console.log(`${"medians".padEnd(72)}      1 GiB    100 MiB`);
  for (const [label, key] of [
    ["tail -n 10000 FILE > TMP && mv TMP FILE (wall, incl. sh start-up)", "tail"],
    ["trimToLastLines(): whole call (incl. releasing the old file)", "ours"],
    ["trimToLastLines(): until the new file is in place (appenders resumed)", "swap"],
    ["trimToLastLines() as a fresh `node` command (incl. start-up)", "wall"],
  ]) {
    row(label, `${ms(m[`${key}_1g`]).padStart(10)} ${ms(m[`${key}_100m`]).padStart(10)}`);
  }
  row("peak RSS of the trimming process", `${(m.rss_1g / MiB).toFixed(1).padStart(7)} MiB ${(m.rss_100m / MiB).toFixed(1).padStart(6)} MiB`);
  console.log("ratios");
  row("ours / tail, whole call, 1 GiB (target <= 1.5)", (m.ours_1g / m.tail_1g).toFixed(2));
  row("ours / tail, whole call, 100 MiB", (m.ours_100m / m.tail_100m).toFixed(2));
  row("ours as a node command / tail, 1 GiB", (m.wall_1g / m.tail_1g).toFixed(2));
  row("ours 1 GiB / 100 MiB, until swapped (target 0.8..1.2)", (m.swap_1g / m.swap_100m).toFixed(2));
  row("ours 1 GiB / 100 MiB, whole call", (m.ours_1g / m.ours_100m).toFixed(2));
  row("tail 1 GiB / 100 MiB", (m.tail_1g / m.tail_100m).toFixed(2));
} finally {
  if (mounted) execFileSync("umount", ["-l", root]);
  rmSync(root, { recursive: true, force: true });
}
