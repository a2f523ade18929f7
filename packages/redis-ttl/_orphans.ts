import type { Pass } from "./_pass.ts";
import { sendBatch, type RedisCommand } from "./_redis.ts";
import { keySlot } from "./_slot.ts";
import type { ScanState } from "./_state.ts";

// Deletes KEYS[1] only while its parent KEYS[2] does not exist.
const DELETE_IF_PARENT_GONE = `if redis.call('exists', KEYS[2]) == 0 then return redis.call('unlink', KEYS[1]) end
return -1`;

/**
 * Orphans: a key whose parent is gone is deleted only when it was already seen orphaned at least `minAge` ago, in
 * this scan cycle or the one before (a marker `reclaim:redis-ttl:<name>:orphan:<key>` = "firstSeen:cycle", with a
 * TTL, kept in Redis so that replicas share it). Never on first sight.
 */
export async function deleteOrphans(pass: Pass, work: Array<{ key: string; rule: number; parent: string }>, state: ScanState): Promise<void> {
  if (work.length === 0) return;
  const now = pass.ctx.now();
  const parents = await sendBatch(pass.client, work.map((w) => ["EXISTS", w.parent] as const));
  const orphaned = work.filter((_, j) => {
    const [err, value] = parents[j]!;
    return !pass.keyError(err) && Number(value) === 0;
  });
  if (orphaned.length === 0) return;
  const markers = await sendBatch(pass.client, orphaned.map((w) => ["GET", pass.markerPrefix + w.key] as const));
  const writes: RedisCommand[] = [];
  const deletes: Array<{ key: string; rule: number; parent: string }> = [];
  orphaned.forEach((w, j) => {
    const rule = pass.options.orphans[w.rule]!;
    const report = pass.report.orphans[w.rule]!;
    report.orphaned++;
    const [err, raw] = markers[j]!;
    if (pass.keyError(err)) return;
    const [firstText, cycleText] = typeof raw === "string" ? raw.split(":") : [];
    const first = Number(firstText);
    const seenCycle = Number(cycleText);
    // A marker from two cycles back or older means the key was not orphaned in between (its parent came back):
    // start again. A dry run has its own cycle count, so it trusts any marker.
    const known = typeof raw === "string" && Number.isFinite(first) && Number.isFinite(seenCycle) && (pass.ctx.dryRun || state.cycle - seenCycle <= 1);
    const markerTtl = 2 * rule.minAge + 86_400_000;
    if (known && now - first >= rule.minAge) {
      deletes.push(w);
      return;
    }
    report.pending++;
    writes.push(["SET", pass.markerPrefix + w.key, `${known ? first : now}:${state.cycle}`, "PX", markerTtl]);
  });
  if (pass.ctx.dryRun) {
    for (const d of deletes) {
      pass.report.orphans[d.rule]!.deleted++;
      pass.sample(pass.report.orphans[d.rule]!.keys, d.key);
    }
    return;
  }
  await sendBatch(pass.client, writes);
  if (deletes.length === 0) return;
  // Delete only while the parent is still gone: one script per key where key and parent share a slot (always on a
  // single node), else UNLINK right after the EXISTS above (see README: the window).
  const cmds: RedisCommand[] = deletes.map((d) =>
    !pass.client.isCluster || keySlot(d.key) === keySlot(d.parent) ? ["EVAL", DELETE_IF_PARENT_GONE, 2, d.key, d.parent] : ["UNLINK", d.key],
  );
  const replies = await sendBatch(pass.client, cmds);
  const cleanup: RedisCommand[] = [];
  deletes.forEach((d, j) => {
    const [err, value] = replies[j]!;
    if (pass.keyError(err)) return;
    cleanup.push(["DEL", pass.markerPrefix + d.key]);
    if (Number(value) === 1) {
      pass.report.orphans[d.rule]!.deleted++;
      pass.metrics.orphansDeleted.inc(pass.labels);
    }
  });
  await sendBatch(pass.client, cleanup);
}
