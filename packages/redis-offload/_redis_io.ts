import type { RedisClient } from "@reclaim/core";
import { COMPARE_AND_DELETE_SCRIPT, READ_SCRIPT, READ_TYPES } from "./_scripts.ts";

/**
 * Bounds of one script call: at most this many records, and (compare-and-delete) about this many bytes of records
 * to compare. A call over 50 records of ~500 bytes takes about 0.2 ms inside Redis, so a client queued
 * behind it (a PING, the service's own commands) waits at most that long.
 */
export const SCRIPT_RECORDS = 50;
const SCRIPT_BYTES = 32 * 1024;

/** What the read script returned for one key. */
export interface ReadReply {
  type: (typeof READ_TYPES)[number];
  /** The GET value (a Buffer), the HGETALL pairs (Buffers), or an empty Buffer. */
  content: unknown;
  inIndex: boolean;
}

/** A record to compare-and-delete: its key, index member, type and the values it must still hold. */
export interface DeleteRequest {
  key: string;
  member: string;
  redisType: "hash" | "string";
  /** As read (Buffers: compared byte for byte). */
  expected: ReadonlyArray<string | Buffer>;
  /** The record's size in Redis (bounds the bytes one script call compares). */
  bytes: number;
}

/** Deletion outcome of one record. */
export type DeleteOutcome = "deleted" | "changed" | "gone";

/** The scripts loaded on one server, and the index settings of one source. */
export interface ScriptRunner {
  read(keys: readonly string[], members: readonly string[]): Promise<ReadReply[]>;
  compareAndDelete(requests: readonly DeleteRequest[]): Promise<DeleteOutcome[]>;
}

/**
 * Loads the scripts and returns the batch operations for a source with an optional `index`: each batch is cut into
 * bounded script calls, all sent in one pipeline (one round trip per batch).
 */
export async function loadScripts(client: RedisClient, index: string | undefined, onlyIndexed: boolean): Promise<ScriptRunner> {
  const readSha = String(await client.script("LOAD", READ_SCRIPT));
  const deleteSha = String(await client.script("LOAD", COMPARE_AND_DELETE_SCRIPT));
  const head = index === undefined ? [] : [index];
  const flag = index === undefined ? "0" : "1";
  return {
    async read(keys, members) {
      const pipeline = client.pipeline();
      for (let start = 0; start < keys.length; start += SCRIPT_RECORDS) {
        const chunk = keys.slice(start, start + SCRIPT_RECORDS);
        const args = index === undefined ? [flag] : [flag, ...members.slice(start, start + SCRIPT_RECORDS)];
        pipeline.callBuffer("EVALSHA", [readSha, head.length + chunk.length, ...head, ...chunk, ...args]);
      }
      const replies: ReadReply[] = [];
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        const flat = reply as unknown[];
        for (let i = 0; i + 2 < flat.length; i += 3) replies.push({ type: READ_TYPES[flat[i] as number] ?? "other", content: flat[i + 1], inIndex: Number(flat[i + 2]) === 1 });
      }
      return replies;
    },
    async compareAndDelete(requests) {
      const pipeline = client.pipeline();
      let keys: string[] = [];
      let args: Array<string | Buffer> = [];
      let bytes = 0;
      const sizes: number[] = [];
      const flush = () => {
        if (keys.length === 0) return;
        sizes.push(keys.length);
        pipeline.evalsha(deleteSha, head.length + keys.length, ...head, ...keys, flag, onlyIndexed ? "1" : "0", ...args);
        keys = [];
        args = [];
        bytes = 0;
      };
      for (const request of requests) {
        keys.push(request.key);
        args.push(request.redisType, request.member, String(request.expected.length), ...request.expected);
        bytes += request.bytes;
        if (keys.length >= SCRIPT_RECORDS || bytes >= SCRIPT_BYTES) flush();
      }
      flush();
      const outcomes: DeleteOutcome[] = [];
      ((await pipeline.exec()) ?? []).forEach(([err, reply], call) => {
        // A call that failed deleted nothing (a script is atomic): its records stay in Redis, counted as changed.
        if (err) for (let i = 0; i < sizes[call]!; i++) outcomes.push("changed");
        else for (const code of reply as number[]) outcomes.push(code === 1 ? "deleted" : code === -1 ? "gone" : "changed");
      });
      return outcomes;
    },
  };
}
