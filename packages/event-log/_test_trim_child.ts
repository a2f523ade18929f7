// Test child: `node _test_trim_child.ts PATH MAX_BYTES KEEP_LINES [KILL_AT_PHASE|-] [ARCHIVE_KEEP]`.
// Sends "ready" once loaded, waits for "go", trims once, sends { done, ms }. With a phase, SIGKILLs itself there.
import { trimLog, type TrimPhase } from "./_trim.ts";

const [path, maxBytes, keepLines, killAt = "-", archiveKeep = ""] = process.argv.slice(2);
process.once("message", async () => {
  const started = performance.now();
  await trimLog(
    path!,
    { maxBytes: Number(maxBytes), keepLines: Number(keepLines), archiveKeep: archiveKeep ? Number(archiveKeep) : null, dryRun: false, drainTimeout: 10_000, signal: undefined },
    (phase: TrimPhase) => {
      if (phase === killAt) process.kill(process.pid, "SIGKILL");
    },
  );
  process.send!({ done: true, ms: performance.now() - started }, () => process.exit(0));
});
process.send!("ready");
