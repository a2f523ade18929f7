import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { DATA, type Daemon, dumpLogsIfFailed, eventually, startDaemon } from "../_daemon.ts";
import type { Images } from "../_images.ts";

// The seed's rotation admitted "a small race where events written during the rename may be lost". Here the
// service keeps appending while reclaim trims: the image's writer (docker/writer/, WRITER=1) appends numbered
// events through @reclaim/event-log's appender, the event-log hook trims a small log every second, and after
// several rotations the log must hold every event from the oldest one kept to the last one written.
const EVENTS = `${DATA}/events.jsonl`;
const STATE = "/tmp/writer.json";
const MAX_BYTES = 128 * 1024;
const KEEP_LINES = 400;
const ROTATIONS = 5;

interface WriterState {
  pid: number;
  last: number;
  stopped: boolean;
  reopens?: number;
}
interface Summary {
  lines: number;
  invalid: number;
  first: number | null;
  last: number | null;
  missing: number[];
  disorder: number;
}

/** Scenario "events keep flowing": no event newer than the oldest kept one is lost across rotations. */
export function eventsFlowScenario(images: Images): void {
  describe("events keep flowing: a writer appends throughout several rotations", () => {
    let daemon: Daemon | undefined;

    beforeAll(async () => {
      daemon = await startDaemon({
        image: images.daemon,
        env: { WRITER: "1", WRITER_RATE: "400", WRITER_EVENT_BYTES: "200", WRITER_STATE: STATE },
        config: {
          log: { level: "info" },
          hooks: {
            "event-log": { path: EVENTS, maxBytes: MAX_BYTES, keepLines: KEEP_LINES, interval: "1s", initialDelay: "1s" },
          },
        },
      });
    });
    afterEach((ctx) => dumpLogsIfFailed(ctx.task.result?.state, daemon));
    afterAll(async () => {
      await daemon?.stop();
    });

    test(`after ${ROTATIONS} rotations no event newer than the oldest kept one is missing`, async () => {
      const d = daemon!;
      await eventually(
        async () => expect((await d.metrics()).sum("reclaim_event_log_rotations_total")).toBeGreaterThanOrEqual(ROTATIONS),
        { timeoutMs: 120_000 },
      );
      const writer = JSON.parse((await d.seed<string>("read", STATE))!) as WriterState;
      // node rather than kill(1): node:20-bookworm-slim has no procps.
      await d.exec(["node", "-e", `process.kill(${writer.pid}, "SIGTERM")`]);
      const stopped = await eventually(async () => {
        const state = JSON.parse((await d.seed<string>("read", STATE))!) as WriterState;
        expect(state.stopped).toBe(true);
        return state;
      });

      const summary = await d.seed<Summary>("events-summary", EVENTS);
      expect(summary.invalid).toBe(0);
      expect(summary.disorder).toBe(0);
      expect(summary.missing).toEqual([]);
      expect(summary.last).toBe(stopped.last);
      // It really was trimmed (the oldest events are gone) and the writer really followed the rotations.
      expect(summary.first).toBeGreaterThan(1);
      expect(stopped.last).toBeGreaterThan(summary.lines);
      expect(stopped.reopens).toBeGreaterThanOrEqual(1);
      const metrics = await d.metrics();
      expect(metrics.sum("reclaim_hook_runs_total", { hook: "event-log", outcome: "failure" })).toBe(0);
    });
  });
}
