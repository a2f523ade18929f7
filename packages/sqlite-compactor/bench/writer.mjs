// Benchmark child: a service inserting job rows continuously (one autocommit INSERT every PAUSE ms) with a
// busy_timeout, recording how long each insert took (its stall) and any error, until the parent says "stop".
import Database from "better-sqlite3";

const [path, busyTimeout = "5000", pauseMs = "2"] = process.argv.slice(2);
const db = new Database(path);
db.pragma(`busy_timeout = ${Number(busyTimeout)}`);
const insert = db.prepare("INSERT INTO jobs (status, created_at, payload) VALUES (?, ?, ?)");
const payload = JSON.stringify({ kind: "bench-writer", stderr: "w".repeat(980) });
const latencies = [];
const errors = [];
const slow = []; // inserts of 20 ms or more, with their wall-clock start

let stop = false;
process.on("message", (m) => {
  if (m === "stop") stop = true;
});
process.send("ready");
while (!stop) {
  const usage = process.resourceUsage();
  const started = performance.now();
  const at = performance.timeOrigin + started;
  try {
    insert.run("running", Date.now(), payload);
  } catch (err) {
    errors.push(String(err.code ?? err.message));
  }
  const took = performance.now() - started;
  latencies.push(took);
  if (took >= 20) {
    // Why the writer was off the CPU meanwhile: waits (the busy handler's sleeps, I/O: voluntary) or preemption.
    const now = process.resourceUsage();
    slow.push({ at, ms: took, waits: now.voluntaryContextSwitches - usage.voluntaryContextSwitches, preempted: now.involuntaryContextSwitches - usage.involuntaryContextSwitches });
  }
  await new Promise((resolve) => setTimeout(resolve, Number(pauseMs)));
}
db.close();
process.send({ latencies, errors, slow }, () => process.exit(0));
