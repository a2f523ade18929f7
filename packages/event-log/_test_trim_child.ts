// Test child: `node _test_trim_child.ts PATH MAX_BYTES KEEP_LINES [KILL_AT_PHASE|-] [ARCHIVE_KEEP] [PHASES_FILE]`.
// Sends "ready" once loaded, waits for "go", trims once, sends { done, ms }. With a phase, SIGKILLs itself there.
// With PHASES_FILE, each phase reached is appended to it synchronously before anything else happens, so after a
// SIGKILL a line there proves the trim got at least that far.
import { appendFileSync } from "node:fs";
import { trimLog, type TrimPhase } from "./_trim.ts";

const [path, maxBytes, keepLines, killAt = "-", archiveKeep = "", phasesFile = ""] = process.argv.slice(2);
process.once("message", async () => {
  const started = performance.now();
  await trimLog(
    path!,
    { maxBytes: Number(maxBytes), keepLines: Number(keepLines), archiveKeep: archiveKeep ? Number(archiveKeep) : null, dryRun: false, drainTimeout: 10_000, signal: undefined },
    (phase: TrimPhase) => {
      if (phasesFile) appendFileSync(phasesFile, `${phase}\n`);
      if (phase === killAt) process.kill(process.pid, "SIGKILL");
    },
  );
  process.send!({ done: true, ms: performance.now() - started }, () => process.exit(0));
});
process.send!("ready");
