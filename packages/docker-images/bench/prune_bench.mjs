// Benchmark: removing N labelled dangling images with the docker-images hook vs
// `docker image prune -f --filter dangling=true --filter label=...` on an identical set, in the same run.
//
//   cd /work/main && npx tsc -b packages/docker-images && node packages/docker-images/bench/prune_bench.mjs
//   env: IMAGES=200 ROUNDS=3 CONCURRENCY=4 (hook concurrency)
//
// Each round makes two sets of N dangling images the same way (`docker import` of a one-file tarball with a
// unique payload and a per-set label, no tag: dangling at once), then times ours on one set and the baseline on
// the other, alternating which goes first (A B, B A, ...). Prints per-round times, medians, the ratio and the
// peak RSS of this process (which runs our hook). Never run by CI.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createRunner } from "@reclaim/core";
import Dockerode from "dockerode";
import { Registry } from "prom-client";
import { createDockerImagesHook } from "../dist/mod.js";

const IMAGES = Number(process.env.IMAGES ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const run = promisify(execFile);
const runId = randomBytes(4).toString("hex");
const benchLabel = `reclaim.bench=${runId}`;

async function importDangling(dir, label) {
  await writeFile(join(dir, "payload"), randomBytes(64).toString("hex"));
  return new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-C", dir, "-cf", "-", "payload"], { stdio: ["ignore", "pipe", "inherit"] });
    const imp = spawn("docker", ["import", "--change", `LABEL ${label}`, "--change", `LABEL ${benchLabel}`, "-"], { stdio: ["pipe", "ignore", "pipe"] });
    tar.stdout.pipe(imp.stdin);
    let err = "";
    imp.stderr.on("data", (c) => (err += c));
    imp.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`docker import: ${err}`))));
  });
}

async function makeSet(label) {
  const dirs = await Promise.all(Array.from({ length: 4 }, () => mkdtemp(join(tmpdir(), "reclaim-bench-"))));
  let next = 0;
  await Promise.all(dirs.map(async (dir) => {
    while (next < IMAGES) {
      next++;
      await importDangling(dir, label);
    }
  }));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  const { stdout } = await run("docker", ["images", "-q", "--filter", "dangling=true", "--filter", `label=${label}`]);
  const count = stdout.trim().split("\n").filter(Boolean).length;
  if (count !== IMAGES) throw new Error(`expected ${IMAGES} dangling images labelled ${label}, found ${count}`);
}

async function ours(label) {
  const registry = new Registry();
  const hook = createDockerImagesHook({ docker: new Dockerode(), label, minAge: 0, concurrency: CONCURRENCY, registry });
  const runner = createRunner(hook, { registry, enabled: true });
  const started = performance.now();
  const result = await runner.runOnce();
  const ms = performance.now() - started;
  if (result.outcome !== "success" || result.report.removed !== IMAGES) throw new Error(`ours: ${JSON.stringify(result).slice(0, 300)}`);
  return ms;
}

async function baseline(label) {
  const started = performance.now();
  await run("docker", ["image", "prune", "-f", "--filter", "dangling=true", "--filter", `label=${label}`]);
  const ms = performance.now() - started;
  const { stdout } = await run("docker", ["images", "-q", "--filter", `label=${label}`]);
  if (stdout.trim() !== "") throw new Error(`baseline left images labelled ${label}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

try {
  const oursMs = [];
  const baseMs = [];
  const ratios = [];
  console.log(`# ${IMAGES} labelled dangling images per set, ${ROUNDS} rounds, hook concurrency ${CONCURRENCY}`);
  for (let round = 0; round < ROUNDS; round++) {
    const a = `reclaim.bench.set=${runId}-${round}-ours`;
    const b = `reclaim.bench.set=${runId}-${round}-baseline`;
    await makeSet(a);
    await makeSet(b);
    // Flush what the imports left dirty so neither side pays for it inside its timing.
    await run("sync");
    let o, p;
    if (round % 2 === 0) {
      o = await ours(a);
      p = await baseline(b);
    } else {
      p = await baseline(b);
      o = await ours(a);
    }
    oursMs.push(o);
    baseMs.push(p);
    ratios.push(o / p);
    console.log(`round ${round + 1}: ours ${o.toFixed(0)} ms, docker image prune ${p.toFixed(0)} ms, ratio ${(o / p).toFixed(2)}`);
  }
  const mo = median(oursMs);
  const mb = median(baseMs);
  console.log(`median: ours ${mo.toFixed(0)} ms, docker image prune ${mb.toFixed(0)} ms, ratio ours/baseline ${(mo / mb).toFixed(2)} (target <= 1.20); median of per-round ratios ${median(ratios).toFixed(2)}`);
  console.log(`peak RSS of the bench process (runs ours): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  // Whatever is left of this run's sets (a failed round) goes.
  const { stdout } = await run("docker", ["images", "-aq", "--filter", `label=${benchLabel}`]);
  const ids = [...new Set(stdout.trim().split("\n").filter(Boolean))];
  if (ids.length > 0) await run("docker", ["rmi", "-f", ...ids]).catch(() => undefined);
}
