// Prints one closing line for the vitest JSON reports given as arguments: "tests: N passed, N failed, N skipped".
// Exits non-zero when a report is missing, a test failed, or no test ran.
import { readFileSync } from "node:fs";

let passed = 0, failed = 0, skipped = 0;
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    console.error(`summarize: no readable report at ${file}`);
    process.exitCode = 1;
    continue;
  }
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const suite of report.testResults ?? []) {
    if (suite.status === "failed" && (suite.assertionResults ?? []).every((t) => t.status !== "failed")) {
      console.error(`summarize: ${suite.name} failed to run: ${String(suite.message).split("\n")[0]}`);
      failed += 1;
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exitCode = 1;
