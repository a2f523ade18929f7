// Test child: `node _test_append_child.ts PATH WRITER ROUNDS PER_ROUND`. Appends ROUNDS × PER_ROUND numbered JSON
// lines through openEventLog(), in bursts of random size (so several lines often share one write). After each
// round it asks the parent for the next one ({ round }) and waits for any message, so that rounds interleave
// with the parent's trims.
import { openEventLog } from "./appender.ts";

const [path, writer, rounds, perRound] = process.argv.slice(2).map((arg, i) => (i === 0 ? arg : Number(arg))) as [string, number, number, number];
const log = await openEventLog(path);
let n = 0;
for (let round = 0; round < rounds; round++) {
  for (let end = n + perRound; n < end; ) {
    const burst = Math.min(end - n, 1 + Math.floor(Math.random() * 8));
    const writes: Promise<void>[] = [];
    for (let i = 0; i < burst; i++, n++) writes.push(log.appendJson({ w: writer, n, pad: "x".repeat(40 + (n % 17)) }));
    await Promise.all(writes);
  }
  if (round < rounds - 1) {
    const next = new Promise((resolve) => process.once("message", resolve));
    process.send!({ round });
    await next;
  }
}
await log.close();
process.send!({ done: true, reopens: log.reopens }, () => process.exit(0));
