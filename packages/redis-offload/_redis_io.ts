import type { RedisClient } from "@reclaim/core";
import { COMPARE_AND_DELETE_SCRIPT, READ_SCRIPT, READ_TYPES } from "./_scripts.ts";

/**
 * Bounds of one script call: at most this many records, and (compare-and-delete) about this many bytes of records
 * to compare. A call over 50 records of ~500 bytes takes 0.1 ms (`MGET`) to 0.4 ms (compare-and-delete, 1,000,000 keys)
 * inside Redis, so a client queued behind it (a PING, the service's own commands) waits at most that long.
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
  /** A string's digest and length in bytes; a hash's field/value pairs as read (Buffers: compared byte for byte). */
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
 * bounded calls, all sent in one pipeline (one round trip per batch).
 *
 * Reading: without an index, while most records are strings, a batch is read with plain `MGET`s (a fraction of the
 * server's time a script spends per key: no `TYPE` call, no script frame); the keys `MGET` answers nil for (a hash,
 * another type, or gone) are read again with the read script, which tells them apart. With an index, or when most
 * records of the last batch were not strings, every key goes through the read script. Reads need no atomicity: the
 * compare-and-delete checks each record again.
 */
export async function loadScripts(client: RedisClient, index: string | undefined, onlyIndexed: boolean): Promise<ScriptRunner> {
  const readSha = String(await client.script("LOAD", READ_SCRIPT));
  const deleteSha = String(await client.script("LOAD", COMPARE_AND_DELETE_SCRIPT));
  const head = index === undefined ? [] : [index];
  const flag = index === undefined ? "0" : "1";
  let mostlyStrings = index === undefined;

  async function readByScript(keys: readonly string[], members: readonly string[]): Promise<ReadReply[]> {
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
  }

  async function readByMget(keys: readonly string[]): Promise<ReadReply[]> {
    const pipeline = client.pipeline();
    for (let start = 0; start < keys.length; start += SCRIPT_RECORDS) pipeline.mgetBuffer(keys.slice(start, start + SCRIPT_RECORDS));
    const replies: ReadReply[] = [];
    const others: number[] = [];
    for (const [err, reply] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      for (const value of reply as Array<Buffer | null>) {
        if (value === null) others.push(replies.length);
        replies.push({ type: "string", content: value, inIndex: false });
      }
    }
    if (others.length > 0) {
      const again = await readByScript(others.map((i) => keys[i]!), []);
      others.forEach((i, j) => (replies[i] = again[j]!));
    }
    return replies;
  }

  return {
    async read(keys, members) {
      const replies = mostlyStrings ? await readByMget(keys) : await readByScript(keys, members);
      if (index === undefined) mostlyStrings = replies.filter((reply) => reply.type === "string").length * 2 >= replies.length;
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
        args.push(request.redisType, index === undefined ? "" : request.member, String(request.expected.length), ...request.expected);
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
