import type { Redis } from "ioredis";
import type { Pass } from "./_pass.ts";
import { sendBatch, type BatchReply, type RedisCommand } from "./_redis.ts";
import type { ScanState } from "./_state.ts";

// PEXPIRE KEYS[i] ARGV[1] NX for each key of one batch; answers how many got a TTL (= had none).
const EXPIRE_MISSING = `local n = 0
for i = 1, #KEYS do n = n + redis.call('pexpire', KEYS[i], ARGV[1], 'NX') end
return n`;

/**
 * Gives one batch's keys their policy's TTL: `missing` sets one only where there is none (`PEXPIRE NX`), `cap` also
 * shortens a longer one (`PEXPIRE LT`); a TTL is never lengthened. Counts keys without a TTL for the cycle's gauge.
 */
export async function applyPolicies(pass: Pass, node: Redis, all: Array<{ key: string; policy: number }>, state: ScanState): Promise<void> {
  if (all.length === 0) return;
  const { policies } = pass.compiled;
  const dry = pass.ctx.dryRun;
  let chosen = all;
  if (!dry && !pass.client.isCluster) {
    // Single node, `missing`: one short script per policy and batch runs the PEXPIRE NX of its keys (at most
    // scanCount) and answers how many it set — one command instead of one per key, for Redis and for this
    // process. (On a cluster the keys of a batch span slots, which a script may not.)
    const byPolicy = new Map<number, string[]>();
    chosen = [];
    for (const item of all) {
      if (policies[item.policy]!.rule.mode !== "missing") chosen.push(item);
      else {
        const keys = byPolicy.get(item.policy);
        if (keys) keys.push(item.key);
        else byPolicy.set(item.policy, [item.key]);
      }
    }
    const groups = [...byPolicy];
    const replies = await sendBatch(node, groups.map(([policy, keys]) => ["EVAL", EXPIRE_MISSING, keys.length, ...keys, policies[policy]!.rule.ttl] as const));
    groups.forEach(([policy, keys], j) => {
      const [err, value] = replies[j]!;
      if (pass.keyError(err)) return;
      const set = Number(value);
      const report = pass.report.policies[policy]!;
      report.matched += keys.length;
      report.withoutTtl += set;
      report.changed += set;
      state.withoutTtl[policy] = (state.withoutTtl[policy] ?? 0) + set;
    });
    if (chosen.length === 0) return;
  }
  // `missing`: PEXPIRE NX answers 1 exactly when the key had no TTL. `cap`: PTTL first (to count keys without a
  // TTL), then PEXPIRE LT, which sets a TTL where there was none and shortens a longer one, never lengthens.
  // Dry run: PTTL only.
  const cmds: RedisCommand[] = [];
  for (const { key, policy } of chosen) {
    const rule = policies[policy]!.rule;
    if (dry) cmds.push(["PTTL", key]);
    else if (rule.mode === "missing") cmds.push(["PEXPIRE", key, rule.ttl, "NX"]);
    else cmds.push(["PTTL", key], ["PEXPIRE", key, rule.ttl, "LT"]);
  }
  const replies = await sendBatch(node, cmds);
  let at = 0;
  const next = (): BatchReply => replies[at++]!;
  for (const { key, policy } of chosen) {
    const rule = policies[policy]!.rule;
    const report = pass.report.policies[policy]!;
    let withoutTtl = false;
    let changed = false;
    if (dry) {
      const [err, value] = next();
      if (pass.keyError(err)) continue;
      const pttl = Number(value);
      if (pttl === -2) continue; // gone meanwhile
      withoutTtl = pttl === -1;
      changed = withoutTtl || (rule.mode === "cap" && pttl > rule.ttl);
    } else if (rule.mode === "missing") {
      const [err, value] = next();
      if (pass.keyError(err)) continue;
      withoutTtl = changed = Number(value) === 1;
    } else {
      const [pErr, pttl] = next();
      const [err, value] = next();
      if (pass.keyError(pErr) || pass.keyError(err)) continue;
      if (Number(pttl) === -2) continue;
      withoutTtl = Number(pttl) === -1;
      changed = Number(value) === 1;
    }
    report.matched++;
    if (withoutTtl) {
      report.withoutTtl++;
      state.withoutTtl[policy] = (state.withoutTtl[policy] ?? 0) + 1;
    }
    if (changed) {
      report.changed++;
      if (dry) pass.sample(report.keys, key);
    }
  }
}
