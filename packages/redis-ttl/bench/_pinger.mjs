// Sends PING back to back on its own connection until SIGTERM, then prints {count, p50, p99, max} in ms as JSON.
import { Redis } from "ioredis";

const redis = new Redis(Number(process.argv[2]), "127.0.0.1");
const samples = [];
let stop = false;
process.on("SIGTERM", () => (stop = true));
await redis.ping();
process.send?.("ready");
while (!stop) {
  const t = performance.now();
  await redis.ping();
  samples.push(performance.now() - t);
}
samples.sort((a, b) => a - b);
const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
process.stdout.write(JSON.stringify({ count: samples.length, p50: at(0.5), p99: at(0.99), max: samples.at(-1) ?? 0 }));
redis.disconnect();
