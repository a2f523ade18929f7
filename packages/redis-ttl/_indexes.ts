import { throwIfAborted } from "@reclaim/core";
import type { Pass } from "./_pass.ts";
import { fillTemplate } from "./_pattern.ts";
import { sendBatch } from "./_redis.ts";
import { keySlot } from "./_slot.ts";
import type { ScanState } from "./_state.ts";

// Removes, from an index, the members whose record key does not exist — in one atomic step per batch, so a member
// whose record exists is never removed. KEYS[1] = index, KEYS[i] = record of ARGV[i] (i >= 2), ARGV[1] = srem|zrem.
const REMOVE_DANGLING = `local n = 0
for i = 2, #KEYS do
  if redis.call('exists', KEYS[i]) == 0 then n = n + redis.call(ARGV[1], KEYS[1], ARGV[i]) end
end
return n`;

/** Sets and sorted sets: members whose record is gone are removed (SSCAN/ZSCAN, cursor kept across passes). */
export async function cleanIndexes(pass: Pass, state: ScanState, save: (force?: boolean) => Promise<void>): Promise<void> {
  for (const [i, rule] of pass.options.indexes.entries()) {
    if (state.doneIndexes.includes(rule.key)) continue;
    if (pass.overBudget()) return;
    const report = pass.report.indexes[i]!;
    const type = (await pass.client.type(rule.key)) as string;
    report.type = type;
    if (type !== "set" && type !== "zset") {
      if (type !== "none") pass.ctx.log.warn({ index: rule.key, type }, "index is neither a set nor a sorted set; left alone");
      state.doneIndexes.push(rule.key);
      continue;
    }
    let cursor = state.indexes[rule.key] ?? "0";
    do {
      throwIfAborted(pass.ctx.signal);
      const [next, flat] = (await pass.client.call(type === "set" ? "SSCAN" : "ZSCAN", [rule.key, cursor, "COUNT", pass.options.scanCount])) as [string, string[]];
      const members = type === "set" ? flat : flat.filter((_, j) => j % 2 === 0);
      pass.read += members.length;
      report.scanned += members.length;
      const records = members.map((m) => fillTemplate(rule.record, [], m));
      const exists = await sendBatch(pass.client, records.map((r) => ["EXISTS", r] as const));
      const dangling: Array<{ member: string; record: string }> = [];
      members.forEach((member, j) => {
        const [err, value] = exists[j]!;
        if (!pass.keyError(err) && Number(value) === 0) dangling.push({ member, record: records[j]! });
      });
      if (pass.ctx.dryRun) {
        report.removed += dangling.length;
        for (const d of dangling) pass.sample(report.members, d.member);
      } else if (dangling.length > 0) {
        const removed = await removeDangling(pass, rule.key, type, dangling);
        report.removed += removed;
        pass.metrics.indexRemoved.inc(pass.labels, removed);
      }
      cursor = next;
      state.indexes[rule.key] = cursor;
      if (cursor === "0") state.doneIndexes.push(rule.key);
      await save(cursor === "0");
      if (cursor !== "0" && pass.overBudget()) return;
      await pass.pause();
    } while (cursor !== "0");
  }
}

async function removeDangling(pass: Pass, index: string, type: "set" | "zset", dangling: Array<{ member: string; record: string }>): Promise<number> {
  const op = type === "set" ? "srem" : "zrem";
  // One script per batch checks each record again and removes its member only while the record is absent. On a
  // cluster a script may only touch one slot: members whose record shares the index's slot (hash tags) go through
  // it; the others are removed right after the EXISTS that found their record gone (see README: the window).
  const atomic = pass.client.isCluster ? dangling.filter((d) => keySlot(d.record) === keySlot(index)) : dangling;
  const loose = pass.client.isCluster ? dangling.filter((d) => keySlot(d.record) !== keySlot(index)) : [];
  let removed = 0;
  if (atomic.length > 0) {
    removed += Number(await pass.client.eval(REMOVE_DANGLING, 1 + atomic.length, index, ...atomic.map((d) => d.record), op, ...atomic.map((d) => d.member)));
  }
  if (loose.length > 0) removed += Number(await pass.client.call(op.toUpperCase(), [index, ...loose.map((d) => d.member)]));
  return removed;
}
