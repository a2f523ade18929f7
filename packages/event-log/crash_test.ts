import type { ChildProcess } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { tempDir } from "@reclaim/core/testing";
import { describe, expect, it } from "vitest";
import { lockDirFor } from "./_lock.ts";
import { expectedSuffix, numberedLines } from "./_test_oracle.ts";
import { exited, forkTs, nextMessage } from "./_test_fork.ts";
import type { TrimPhase } from "./_trim.ts";
import { openEventLog } from "./appender.ts";
import { trimToLastLines } from "./trim_log.ts";

const MAX_BYTES = 600_000;
const KEEP_LINES = 8_000;
const FIXTURE = numberedLines(16_000, 64); // 1 MiB; the trim keeps the last 512,000 bytes
const KEPT = FIXTURE.subarray(expectedSuffix(FIXTURE, MAX_BYTES, KEEP_LINES).start);
const BATCH = 6;
const HEAD = FIXTURE.subarray(0, FIXTURE.length - KEPT.length);

interface Trial {
  path: string;
  kill: { phase: TrimPhase } | { afterMs: number } | null;
  archive: boolean;
}

/** Where a trial's child records the phases it reached: beside the trial's folder, so the folder's listing stays the log's. */
const phasesFileOf = (trial: Trial): string => `${join(trial.path, "..")}.phases`;

/**
 * What the log must hold after a trial, from how far its trimmer got: the swap (rename) comes after the `paused`
 * phase, so without `paused` recorded the file must be the old one; with `renamed` recorded, or a trimmer that
 * finished, it must be the new one. Killed between the two, either is right.
 */
async function mustShow(trial: Trial, ended: { signal: string | null }): Promise<{ expected: "old" | "new" | "either"; phases: string[] }> {
  const phases = (await readFile(phasesFileOf(trial), "utf8").catch(() => "")).split("\n").filter(Boolean);
  if (ended.signal === null || phases.includes("renamed")) return { expected: "new", phases };
  if (!phases.includes("paused")) return { expected: "old", phases };
  return { expected: "either", phases };
}

/** Starts one trimming child per trial, lets them go together, kills each as its trial says; returns how each ended. */
async function runBatch(trials: Trial[]): Promise<Array<{ signal: string | null; ms?: number }>> {
  const children: ChildProcess[] = [];
  for (const trial of trials) {
    await mkdir(join(trial.path, ".."), { recursive: true });
    await writeFile(trial.path, FIXTURE);
    const phase = trial.kill && "phase" in trial.kill ? trial.kill.phase : "-";
    children.push(forkTs("./_test_trim_child.ts", [trial.path, String(MAX_BYTES), String(KEEP_LINES), phase, trial.archive ? "3" : "", phasesFileOf(trial)], { leanCore: true }));
  }
  await Promise.all(children.map((child) => nextMessage(child, (m) => m === "ready")));
  return Promise.all(
    children.map(async (child, i) => {
      const kill = trials[i]!.kill;
      const done = nextMessage<{ done: boolean; ms: number }>(child, (m) => typeof m === "object").catch(() => null);
      child.send("go");
      if (kill && "afterMs" in kill) setTimeout(() => child.kill("SIGKILL"), kill.afterMs);
      const [{ code, signal }, message] = await Promise.all([exited(child), done]);
      expect(code === 0 || signal === "SIGKILL").toBe(true);
      return message ? { signal, ms: message.ms } : { signal };
    }),
  );
}

/** The file must be the old content or the new; the next pass must finish the job and leave nothing behind. */
async function checkAndRecover(trial: Trial): Promise<"old" | "new"> {
  const after = await readFile(trial.path);
  const state = after.equals(FIXTURE) ? "old" : after.equals(KEPT) ? "new" : "mixed";
  expect(state, `content after the kill (${after.length} bytes)`).not.toBe("mixed");
  await trimToLastLines(trial.path, { maxBytes: MAX_BYTES, keepLines: KEEP_LINES, ...(trial.archive ? { archive: { keep: 3 } } : {}) });
  expect((await readFile(trial.path)).equals(KEPT)).toBe(true);
  const dir = join(trial.path, "..");
  const names = (await readdir(dir)).sort();
  const archives = names.filter((name) => name.endsWith(".gz"));
  expect(names.filter((name) => !name.endsWith(".gz"))).toEqual([".events.jsonl.reclaim-lock", "events.jsonl"]);
  expect(await readdir(lockDirFor(trial.path))).toEqual([]);
  if (trial.archive) {
    expect(archives.length).toBeGreaterThanOrEqual(1);
    for (const archive of archives) expect(gunzipSync(await readFile(join(dir, archive))).equals(HEAD)).toBe(true);
  } else {
    expect(archives).toEqual([]);
  }
  return state === "old" ? "old" : "new";
}

describe("trimToLastLines() under SIGKILL", () => {
  it("killed at random instants and at each step, leaves the old file or the new one, and the next pass cleans up", { timeout: 600_000 }, async () => {
    await using dir = await tempDir("event-log-crash-");
    let trialNo = 0;
    const trial = (kill: Trial["kill"], archive = false): Trial => ({ path: join(dir.path, String(trialNo++), "events.jsonl"), kill, archive });

    // How long a trim takes here with a batch running side by side, so that random kills spread over it (and
    // a little past it: a kill after the rename must leave the new file).
    const calibration = Array.from({ length: BATCH }, () => trial(null));
    const timings = await runBatch(calibration);
    for (const t of calibration) expect(await checkAndRecover(t)).toBe("new");
    const span = Math.max(...timings.map((t) => t.ms ?? 0)) * 1.5 + 2;

    const phases: TrimPhase[] = ["locked", "copied", "paused", "renamed", "resumed"];
    const trials = [
      ...phases.flatMap((phase) => [trial({ phase }), trial({ phase }, true)]),
      trial({ phase: "archived" }, true),
      trial({ phase: "archived" }, true),
      ...Array.from({ length: 52 }, (_, i) => trial({ afterMs: Math.random() * span }, i % 4 === 0)),
    ];
    const states = { old: 0, new: 0, either: 0 };
    for (let i = 0; i < trials.length; i += BATCH) {
      const batch = trials.slice(i, i + BATCH);
      const ended = await runBatch(batch);
      for (const [j, t] of batch.entries()) {
        const { expected, phases } = await mustShow(t, ended[j]!);
        const state = await checkAndRecover(t);
        states[expected]++;
        // Each trial, random instant or not, shows what the point its trimmer reached allows.
        if (expected !== "either") expect(state, `trial ${JSON.stringify(t.kill)} reached [${phases.join(", ")}], ended by ${ended[j]!.signal ?? "exit"}`).toBe(expected);
        if (t.kill && "phase" in t.kill) expect(state).toBe(t.kill.phase === "renamed" || t.kill.phase === "resumed" ? "new" : "old");
      }
    }
    if (process.env.DEBUG_CRASH) console.log(states, span);
  });

  it("does not hold appenders back once the trimmer that paused them is killed", { timeout: 120_000 }, async () => {
    await using dir = await tempDir("event-log-crash-");
    const t: Trial = { path: join(dir.path, "events.jsonl"), kill: { phase: "paused" }, archive: false };
    await runBatch([t]);
    expect(await readdir(lockDirFor(t.path))).toContain("pause");
    await using log = await openEventLog(t.path);
    await log.append("after the crash");
    const content = Buffer.concat([FIXTURE, Buffer.from("after the crash\n")]);
    expect((await readFile(t.path)).equals(content)).toBe(true);
    await trimToLastLines(t.path, { maxBytes: MAX_BYTES, keepLines: KEEP_LINES });
    expect((await readFile(t.path)).equals(content.subarray(expectedSuffix(content, MAX_BYTES, KEEP_LINES).start))).toBe(true);
  });
});
