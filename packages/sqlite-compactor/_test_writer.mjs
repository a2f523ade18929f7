// Test/bench child: inserts job rows into a database as a service would, one autocommit INSERT at a time, until
// told to stop. Reports each insert's latency and every error it saw (expected: none).
import Database from "better-sqlite3";

const [path, busyTimeout = "5000", pauseMs = "2", payloadBytes = "200"] = process.argv.slice(2);
const db = new Database(path);
db.pragma(`busy_timeout = ${Number(busyTimeout)}`);
const insert = db.prepare("INSERT INTO jobs (status, created_at, payload) VALUES (?, ?, ?)");
const payload = JSON.stringify({ stderr: "y".repeat(Math.max(0, Number(payloadBytes) - 20)) });
const latencies = [];
const errors = [];
let stop = false;
process.on("message", (m) => {
  if (m === "stop") stop = true;
});
process.send?.("ready");
while (!stop) {
  const started = performance.now();
  try {
    insert.run(latencies.length % 2 ? "running" : "pending", Date.now() - 90 * 86_400_000, payload);
  } catch (err) {
    errors.push(`${err.code ?? ""} ${err.message}`);
  }
  latencies.push(performance.now() - started);
  await new Promise((resolve) => setTimeout(resolve, Number(pauseMs)));
}
db.close();
process.send?.({ latencies, errors, inserted: latencies.length - errors.length }, () => process.exit(0));
