import type { Redis } from "ioredis";
import { throwIfAborted } from "@reclaim/core";
import { deleteOrphans } from "./_orphans.ts";
import type { Pass } from "./_pass.ts";
import { fillTemplate, matchKey } from "./_pattern.ts";
import { applyPolicies } from "./_policies.ts";
import { sendBatch } from "./_redis.ts";
import { OWNED_PREFIX, type ScanState } from "./_state.ts";
import { trimStreams } from "./_streams.ts";
import type { ResolvedRedisTtlOptions } from "./options.ts";

/** The keyspace scan: every master, SCAN COUNT batches, from the cursor the last pass left. */
export async function scanKeyspace(
  pass: Pass,
  nodes: Array<{ id: string; node: Redis }>,
  state: ScanState,
  save: (force?: boolean) => Promise<void>,
  runIds: Record<string, string>,
): Promise<void> {
  const match = pass.compiled.scanMatch;
  state.runIds ??= {};
  for (const { id } of nodes) {
    // A SCAN cursor means nothing to another server process (a restart rebuilds the hash table with a new seed):
    // a master whose run_id changed is scanned again from the start.
    const runId = runIds[id];
    if (runId === undefined) continue;
    if (state.runIds[id] !== undefined && state.runIds[id] !== runId) {
      pass.ctx.log.info({ node: id }, "Redis restarted since the scan position was saved: this master is scanned again from the start");
      delete state.nodes[id];
      state.doneNodes = state.doneNodes.filter((done) => done !== id);
    }
    state.runIds[id] = runId;
  }
  for (const { id, node } of nodes) {
    if (state.doneNodes.includes(id)) continue;
    if (pass.overBudget()) return;
    let cursor = state.nodes[id] ?? "0";
    do {
      throwIfAborted(pass.ctx.signal);
      const args: (string | number)[] = [cursor, "COUNT", pass.options.scanCount];
      if (match !== undefined) args.push("MATCH", match);
      const [next, keys] = (await node.call("SCAN", args)) as [string, string[]];
      pass.read += keys.length;
      pass.report.scanned += keys.length;
      pass.metrics.scanned.inc(pass.labels, keys.length);
      await processKeys(pass, node, keys, state);
      cursor = next;
      state.nodes[id] = cursor;
      if (cursor === "0") state.doneNodes.push(id);
      await save(cursor === "0");
      if (cursor !== "0" && pass.overBudget()) return;
      await pass.pause();
    } while (cursor !== "0");
  }
}

/** Sorts one SCAN batch's keys to the rules they match (first matching policy wins), then runs each rule's step. */
async function processKeys(pass: Pass, node: Redis, keys: string[], state: ScanState): Promise<void> {
  const { policies, streams, orphans } = pass.compiled;
  // Keys whose first matching policy has no type go straight to `chosen` (the common case, no allocation per
  // key beyond the command); keys where a typed policy comes first keep their candidates until TYPE answers.
  const chosen: Array<{ key: string; policy: number }> = [];
  const typed: Array<{ key: string; candidates: number[] }> = [];
  const streamWork: Array<{ key: string; rule: ResolvedRedisTtlOptions["streams"][number] }> = [];
  const orphanWork: Array<{ key: string; rule: number; parent: string }> = [];
  for (const key of keys) {
    if (key.startsWith(OWNED_PREFIX)) continue;
    let candidates: number[] | undefined;
    for (let i = 0; i < policies.length; i++) {
      if (!policies[i]!.pattern.regex.test(key)) continue;
      if (policies[i]!.rule.type === undefined) {
        if (candidates) candidates.push(i);
        else chosen.push({ key, policy: i });
        break; // a later policy can only win over a typed one
      }
      (candidates ??= []).push(i);
    }
    if (candidates) typed.push({ key, candidates });
    for (const s of streams) {
      if (!s.pattern.literal && s.pattern.regex.test(key)) {
        streamWork.push({ key, rule: s.rule });
        break;
      }
    }
    for (let i = 0; i < orphans.length; i++) {
      const captures = matchKey(orphans[i]!.pattern, key);
      if (captures) {
        orphanWork.push({ key, rule: i, parent: fillTemplate(orphans[i]!.rule.parent, captures) });
        break;
      }
    }
  }

  // Typed candidates: one TYPE each; the first policy that fits takes the key.
  if (typed.length > 0) {
    const replies = await sendBatch(node, typed.map((k) => ["TYPE", k.key] as const));
    typed.forEach(({ key, candidates }, j) => {
      const [err, value] = replies[j]!;
      if (pass.keyError(err)) return;
      const policy = candidates.find((i) => {
        const want = policies[i]!.rule.type;
        return want === undefined || String(value) === want;
      });
      if (policy !== undefined) chosen.push({ key, policy });
    });
  }
  await applyPolicies(pass, node, chosen, state);
  await trimStreams(pass, node, streamWork);
  await deleteOrphans(pass, orphanWork, state);
}
