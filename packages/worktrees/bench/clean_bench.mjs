// A worktree whose node_modules holds 200,000 files (pnpm layout), on a tmpfs, in the same run:
//   - ours: one pass of cleanWorktrees (scan, rename into the trash, threaded delete, statfs), timed until the folder
//     is out of the worktree and until the space is back, vs `rm -rf` of an identical copy (target <= 1.2x);
//   - the report's size walk (measureFolder) vs `du -sb` of the same folder (target <= 1.5x).
// Alternates ours and the baseline (A B A B) and prints medians, ratios, peak memory and the load average.
//
//   npx tsc -b packages/worktrees && node packages/worktrees/bench/clean_bench.mjs [--rounds 3] [--files 200000] [--threads N]
//   RECLAIM_NATIVE=0 measures the JavaScript deletion (the fallback when the native clearTree is not built).
//
// Needs root (mounts a tmpfs) and git.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, files: { type: "string", default: "200000" }, threads: { type: "string" } } });
const rounds = Number(values.rounds);
const files = Number(values.files);
const child = fileURLToPath(new URL("./_child.mjs", import.meta.url));
// Ours runs with the node flags `reclaim` runs with: those of the CLI's shebang (packages/cli/main.ts).
const cliFlags = readFileSync(new URL("../../cli/main.ts", import.meta.url), "utf8").split("\n")[0].replace(/^#!.*?\bnode\b\s*/, "").split(" ").filter(Boolean);
const old = new Date(Date.now() - 40 * 86_400_000);
const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@example.com", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@example.com", GIT_AUTHOR_DATE: old.toISOString(), GIT_COMMITTER_DATE: old.toISOString(), GIT_CONFIG_GLOBAL: "/dev/null" };
const git = (cwd, ...args) => execFileSync("git", ["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", ...args], { cwd, env: gitEnv, stdio: "pipe" });

const base = mkdtempSync(join(tmpdir(), "reclaim-wt-bench-"));
execFileSync("mount", ["-t", "tmpfs", "-o", "size=3g,nr_inodes=3000000", "tmpfs", base]);

/** node_modules in pnpm's layout: .pnpm/pkgN@1.0.0/node_modules/pkgN/{lib/dK/fJ.js}, 100 files per package. */
function buildNodeModules(dir, count) {
  const perPackage = 100;
  for (let p = 0; p * perPackage < count; p++) {
    const pkg = join(dir, ".pnpm", `pkg${p}@1.0.0`, "node_modules", `pkg${p}`);
    for (let d = 0; d < 10; d++) {
      const sub = join(pkg, "lib", `d${d}`);
      mkdirSync(sub, { recursive: true });
      for (let f = 0; f < 10 && p * perPackage + d * 10 + f < count; f++) writeFileSync(join(sub, `f${f}.js`), `module.exports = ${f};\n`.repeat(8));
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function timed(cmd, args) {
  const started = performance.now();
  const result = spawnSync("/usr/bin/time", ["-f", "%M %U %S", cmd, ...args], { encoding: "utf8" });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr}`);
  const [rss, user, sys] = result.stderr.trim().split("\n").pop().split(" ").map(Number);
  return { ms: Math.round(ms), cpuMs: Math.round((user + sys) * 1000), maxRssMiB: Math.round(rss / 1024) };
}
function ours(op, target) {
  const args = [...cliFlags, child, op, target];
  if (values.threads !== undefined) args.push(values.threads);
  return JSON.parse(execFileSync(process.execPath, args, { encoding: "utf8" }).trim().split("\n").pop());
}

const samples = { clean: [], rm: [], size: [], du: [] };
try {
  const main = join(base, "main");
  mkdirSync(main);
  git(main, "init", "-q");
  writeFileSync(join(main, "README.md"), "bench\n");
  writeFileSync(join(main, ".gitignore"), "node_modules/\n");
  git(main, "add", "-A");
  git(main, "commit", "-q", "-m", "initial");
  const template = join(base, "template-node_modules");
  buildNodeModules(template, files);
  console.error(`built ${files} files; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  for (let r = 0; r < rounds; r++) {
    const wt = join(base, `wt${r}`);
    git(main, "worktree", "add", "-q", wt, "-b", `b${r}`);
    execFileSync("cp", ["-a", template, join(wt, "node_modules")]);
    utimesSync(join(wt, "README.md"), old, old);
    utimesSync(join(wt, ".gitignore"), old, old);
    const copy = join(base, `copy${r}`);
    execFileSync("cp", ["-a", template, copy]);
    // size walk vs du -sb, then the pass vs rm -rf (A B A B)
    const size = ours("size", join(wt, "node_modules"));
    const du = timed("du", ["-sb", join(wt, "node_modules")]);
    const clean = ours("clean", main);
    if (clean.removed !== 1 || clean.errors !== 0) throw new Error(`unexpected pass: ${JSON.stringify(clean)}`);
    const rm = timed("rm", ["-rf", copy]);
    samples.size.push(size);
    samples.du.push(du);
    samples.clean.push(clean);
    samples.rm.push(rm);
    console.error(
      `round ${r + 1}: pass ${clean.totalMs} ms (cpu ${clean.cpuMs} ms; out of the worktree after ${clean.untilOutMs} ms, rename ${clean.renameMs} ms) vs rm -rf ${rm.ms} ms (cpu ${rm.cpuMs} ms); ` +
        `size walk ${size.ms} ms (cpu ${size.cpuMs} ms) vs du -sb ${du.ms} ms (cpu ${du.cpuMs} ms); load ${loadavg()[0].toFixed(2)}`,
    );
    git(main, "worktree", "remove", "--force", wt);
  }
  const m = (xs, key) => median(xs.map((x) => x[key]));
  console.log(JSON.stringify({
    files,
    rounds,
    load: loadavg().map((l) => Number(l.toFixed(2))),
    // The native clearTree (built by pnpm install) or the JavaScript deletion (RECLAIM_NATIVE=0, or not built).
    deletion: samples.clean.every((c) => c.nativeDelete) ? "native" : "javascript",
    pass: { totalMs: m(samples.clean, "totalMs"), cpuMs: m(samples.clean, "cpuMs"), untilOutMs: m(samples.clean, "untilOutMs"), renameMs: m(samples.clean, "renameMs"), maxRssMiB: m(samples.clean, "maxRssMiB"), freedBytes: m(samples.clean, "freedBytes"), removedBytes: m(samples.clean, "removedBytes") },
    rmRf: { ms: m(samples.rm, "ms"), cpuMs: m(samples.rm, "cpuMs"), maxRssMiB: m(samples.rm, "maxRssMiB") },
    passVsRm: Number((m(samples.clean, "totalMs") / m(samples.rm, "ms")).toFixed(2)),
    // CPU time: how much work each does, whatever the other load on the machine (ours on every thread it runs).
    passCpuVsRmCpu: Number((m(samples.clean, "cpuMs") / m(samples.rm, "cpuMs")).toFixed(2)),
    sizeWalk: { ms: m(samples.size, "ms"), cpuMs: m(samples.size, "cpuMs"), maxRssMiB: m(samples.size, "maxRssMiB") },
    duSb: { ms: m(samples.du, "ms"), cpuMs: m(samples.du, "cpuMs"), maxRssMiB: m(samples.du, "maxRssMiB") },
    sizeVsDu: Number((m(samples.size, "ms") / m(samples.du, "ms")).toFixed(2)),
    sizeCpuVsDuCpu: Number((m(samples.size, "cpuMs") / m(samples.du, "cpuMs")).toFixed(2)),
  }, null, 2));
} finally {
  execFileSync("umount", ["-l", base]);
  rmSync(base, { recursive: true, force: true });
}
