// Concurrent writer for backfill_bench.mjs: updates random rows of the table continuously and records each
// statement's latency; prints {count, p50, p99, max} as JSON when told to stop (IPC message "stop").
import pg from "pg";

const [url, relation, rows] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const client = new pg.Client({ connectionString: url });
await client.connect();
const latencies = [];
let stopping = false;
process.on("message", () => (stopping = true));
process.send?.("ready");
while (!stopping) {
  const id = 1 + Math.floor(Math.random() * rows);
  const started = performance.now();
  await client.query(`UPDATE ${relation} SET hits = hits + 1 WHERE id = $1`, [id]);
  latencies.push(performance.now() - started);
}
await client.end();
latencies.sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
process.send?.({ count: latencies.length, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? 0 }, () => process.disconnect());
