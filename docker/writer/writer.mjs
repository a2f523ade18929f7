// The demo writer: stands in for the service whose volume reclaim looks after. It appends numbered JSON events
// ({"seq":1,...}, {"seq":2,...}) to the event log through @reclaim/event-log's rotation-aware appender and, if
// asked, writes media files the way a generator would. Started by the image's entrypoint when WRITER=1.
//
//   WRITER_EVENTS        event log path                     default $RECLAIM_DATA_DIR/events.jsonl
//   WRITER_RATE          events per second                  default 200
//   WRITER_EVENT_BYTES   approximate size of one event line default 200
//   WRITER_MEDIA_EVERY   write a media file every N events  default 0 (never)
//   WRITER_MEDIA_BYTES   size of one media file             default 65536
//   WRITER_STATE         JSON file the writer keeps {pid, last, stopped} in   default /tmp/writer.json
//
// SIGTERM/SIGINT: stops appending, flushes, writes {stopped: true, last} to WRITER_STATE and exits 0.
import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openEventLog } from "@reclaim/event-log";

const env = process.env;
const dataDir = env.RECLAIM_DATA_DIR || "/app/.data";
const eventsPath = env.WRITER_EVENTS || join(dataDir, "events.jsonl");
const rate = Number(env.WRITER_RATE || 200);
const eventBytes = Number(env.WRITER_EVENT_BYTES || 200);
const mediaEvery = Number(env.WRITER_MEDIA_EVERY || 0);
const mediaBytes = Number(env.WRITER_MEDIA_BYTES || 65536);
const statePath = env.WRITER_STATE || "/tmp/writer.json";
const log = (msg, fields = {}) => process.stdout.write(`${JSON.stringify({ name: "writer", msg, ...fields })}\n`);

async function saveState(state) {
  await writeFile(`${statePath}.tmp`, JSON.stringify({ pid: process.pid, ...state }));
  await rename(`${statePath}.tmp`, statePath);
}

async function writeMedia(seq) {
  const dir = join(dataDir, "images");
  await mkdir(dir, { recursive: true });
  const name = `gen-${String(seq).padStart(8, "0")}.png`;
  await writeFile(join(dir, `.${name}.tmp`), randomBytes(mediaBytes));
  await rename(join(dir, `.${name}.tmp`), join(dir, name));
  return `/images/${name}`;
}

const events = await openEventLog(eventsPath);
const pad = "x".repeat(Math.max(0, eventBytes - 90));
const startedAt = Date.now();
let last = 0;
let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => (stopping = true));
await saveState({ last, stopped: false });
log("writer started", { events: eventsPath, rate });

while (!stopping) {
  const due = Math.floor(((Date.now() - startedAt) / 1000) * rate);
  const appended = [];
  while (last < due && !stopping) {
    last += 1;
    const event = { seq: last, at: new Date().toISOString(), type: "tick", pad };
    if (mediaEvery > 0 && last % mediaEvery === 0) {
      Object.assign(event, { type: "media.created", url: await writeMedia(last) });
    }
    appended.push(events.appendJson(event));
  }
  await Promise.all(appended);
  if (appended.length > 0) await saveState({ last, stopped: false });
  await new Promise((resolve) => setTimeout(resolve, 20));
}

await events.close();
await saveState({ last, stopped: true, reopens: events.reopens });
log("writer stopped", { last, reopens: events.reopens });
