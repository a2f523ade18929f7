import { throwIfAborted } from "@reclaim/core";
import type { Pass } from "./_pass.ts";
import { sendBatch, type RedisClient, type RedisCommand } from "./_redis.ts";
import type { ResolvedRedisTtlOptions } from "./options.ts";

type StreamRule = ResolvedRedisTtlOptions["streams"][number];

/** Streams named by a literal key: trimmed on every pass (bounded by LIMIT per call). */
export async function trimLiteralStreams(pass: Pass): Promise<void> {
  const work = pass.compiled.streams.filter((s) => s.pattern.literal).map((s) => ({ key: s.pattern.key, rule: s.rule }));
  await trimStreams(pass, pass.client, work);
}

/**
 * `XTRIM ... MAXLEN|MINID ~ ... LIMIT` on each stream, repeated while a call still removed something (bounded rounds);
 * a dry run counts what would go (XLEN, XRANGE of the too-old entries). A key that is not a stream is left alone.
 */
export async function trimStreams(pass: Pass, target: RedisClient, work: Array<{ key: string; rule: StreamRule }>): Promise<void> {
  if (work.length === 0) return;
  const now = pass.ctx.now();
  const trimCommands = (key: string, rule: StreamRule): RedisCommand[] => {
    const cmds: RedisCommand[] = [];
    if (rule.maxLen !== undefined) cmds.push(["XTRIM", key, "MAXLEN", "~", rule.maxLen, "LIMIT", rule.limit]);
    if (rule.maxAge !== undefined) cmds.push(["XTRIM", key, "MINID", "~", `${Math.max(0, now - rule.maxAge)}-0`, "LIMIT", rule.limit]);
    return cmds;
  };
  if (pass.ctx.dryRun) {
    const cmds: RedisCommand[] = [];
    for (const { key, rule } of work) {
      cmds.push(["XLEN", key]);
      cmds.push(rule.maxAge !== undefined ? ["XRANGE", key, "-", `(${Math.max(0, now - rule.maxAge)}-0`, "COUNT", rule.limit] : ["XLEN", key]);
    }
    const replies = await sendBatch(target, cmds);
    work.forEach(({ key, rule }, i) => {
      const [lenErr, len] = replies[2 * i]!;
      const [oldErr, old] = replies[2 * i + 1]!;
      if (lenErr || oldErr) return; // not a stream
      const byLen = rule.maxLen !== undefined ? Math.max(0, Math.min(rule.limit, Number(len) - rule.maxLen)) : 0;
      const byAge = rule.maxAge !== undefined && Array.isArray(old) ? old.length : 0;
      const would = Math.max(byLen, byAge);
      if (would > 0) {
        pass.report.streams.entries += would;
        pass.report.streams.streams++;
        pass.sample(pass.report.streams.keys, key);
      }
    });
    return;
  }
  // Each call evicts at most `limit` entries (whole macro nodes, `~`); keep calling while a call still removed
  // something, a bounded number of rounds per pass.
  let pending = work;
  const touched = new Set<string>();
  for (let round = 0; round < 100 && pending.length > 0; round++) {
    throwIfAborted(pass.ctx.signal);
    const cmds = pending.map(({ key, rule }) => trimCommands(key, rule));
    const replies = await sendBatch(target, cmds.flat());
    const next: typeof pending = [];
    let at = 0;
    pending.forEach((item, i) => {
      let removed = 0;
      for (let j = 0; j < cmds[i]!.length; j++) {
        const [err, value] = replies[at++]!;
        // WRONGTYPE: a key the glob matched is not a stream; not ours to trim.
        if (err && !err.message.startsWith("WRONGTYPE")) pass.keyError(err);
        else if (!err) removed += Number(value);
      }
      if (removed > 0) {
        pass.report.streams.entries += removed;
        touched.add(item.key);
        next.push(item);
      }
    });
    pending = next;
  }
  pass.report.streams.streams += touched.size;
}
