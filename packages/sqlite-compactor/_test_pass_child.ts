// Test-only child: builds the compactor from JSON options (argv[2]), says "ready", runs one pass on "go", then
// says "done". The parent may SIGKILL it at any moment in between.
import { createRunner } from "@reclaim/core";
import { createSqliteCompactorHook } from "./compactor.ts";

const options = JSON.parse(process.argv[2] ?? "{}");
const hook = createSqliteCompactorHook(options);
const runner = createRunner(hook, { enabled: true });
process.on("message", (message) => {
  if (message !== "go") return;
  void runner.runOnce().then((result) => process.send?.({ done: result.outcome, error: result.error ?? null }, () => process.exit(0)));
});
process.send?.("ready");
