// Sends a PING every millisecond on its own connection (argv: port [host]; the next one as soon as the reply is in
// when a reply took longer) until SIGTERM, then prints {count, p50, p99, p999, max, over10} in ms as JSON. Any stall of the server
// longer than the interval is seen by the PING sent into it. A raw socket, no client library: nothing between the
// measurement and the wire. Paced, not back to back, so that at real-time priority it does not take a whole core.
// Started by latency.mjs startPinger().
import { createConnection } from "node:net";

const INTERVAL_MS = 1;
const socket = createConnection({ port: Number(process.argv[2]), host: process.argv[3] ?? "127.0.0.1" });
socket.setNoDelay(true);
const samples = [];
let sentAt = 0;
let buffered = "";
let ready = false;
let stop = false;
const ping = () => {
  sentAt = performance.now();
  socket.write("PING\r\n");
};
socket.on("data", (chunk) => {
  buffered += chunk.toString("latin1");
  if (!buffered.endsWith("\r\n")) return;
  if (!buffered.startsWith("+PONG")) throw new Error(`unexpected reply: ${buffered}`);
  buffered = "";
  const ms = performance.now() - sentAt;
  if (ready) samples.push(ms);
  else (ready = true), process.send?.("ready"); // the first round trip warms the connection up: not a sample
  if (stop) finish();
  else setTimeout(ping, Math.max(0, INTERVAL_MS - ms));
});
socket.once("connect", ping);
process.on("SIGTERM", () => (stop = true));
// The server gone, or the benchmark that started us: report what was measured and leave (at real-time priority a
// client left behind would spin on core 0 and starve whatever runs there next).
socket.on("error", () => undefined);
socket.once("close", () => {
  if (!stop) finish();
  process.exit(0);
});
process.once("disconnect", () => process.exit(0));

function finish() {
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
  // over10: PINGs that waited 10 ms or more (the usual latency target), so rare stalls can be counted against the
  // idle floor's own.
  const over10 = samples.filter((ms) => ms >= 10).length;
  process.stdout.write(JSON.stringify({ count: samples.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: samples.at(-1) ?? 0, over10 }));
  socket.end();
  process.disconnect?.();
}
