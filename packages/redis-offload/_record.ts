import { isUtf8 } from "node:buffer";
import { hash } from "node:crypto";

/** How a Redis value was classified for the offload. */
export type Classified =
  | { state: "record"; redisType: "hash" | "string"; payload: string | Buffer; time: number; digest: string; bytes: number; expected: Array<string | Buffer> }
  | { state: "undatable"; redisType: "hash" | "string" }
  | { state: "other" }
  | { state: "gone" };

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
/** Milliseconds of 1e11: a number at least this large is read as milliseconds, a smaller one as seconds. */
const MS_THRESHOLD = 1e11;
const MAX_TIME = Date.UTC(9999, 11, 31);

/**
 * Reads a record time: a number (or a string of digits) is epoch seconds, or milliseconds when at least 1e11; a
 * string in ISO 8601 (`2026-11-21`, `2026-11-21T10:00:00Z`, `2026-11-21 10:00:00.5+02:00`; no zone means UTC) is
 * parsed. Anything else, or a time before 1970-01-01 or after 9999, is `undefined`: the record is never touched.
 */
export function readTime(value: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof value === "number") ms = fromEpoch(value);
  else if (typeof value === "string") {
    const text = value.trim();
    if (/^\d+(?:\.\d+)?$/.test(text)) ms = fromEpoch(Number(text));
    else {
      const match = ISO_8601.exec(text);
      if (match) {
        const [, date, time, zone] = match;
        let normalized = time === undefined ? `${date}T00:00:00Z` : `${date}T${time.replace(",", ".")}${zone ?? "Z"}`;
        normalized = normalized.replace(/([+-]\d{2})(\d{2})$/, "$1:$2").replace(/([+-]\d{2})$/, "$1:00");
        const parsed = Date.parse(normalized);
        ms = Number.isNaN(parsed) ? undefined : parsed;
      }
    }
  }
  return ms !== undefined && Number.isFinite(ms) && ms > 0 && ms <= MAX_TIME ? ms : undefined;
}

function fromEpoch(n: number): number | undefined {
  if (!Number.isFinite(n) || n <= 0) return undefined;
  return n >= MS_THRESHOLD ? n : n * 1000;
}

function property(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object" || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A value as text, or undefined when its bytes are not UTF-8 (it could not be archived as they are). */
function text(value: unknown): string | undefined {
  if (Buffer.isBuffer(value)) return isUtf8(value) ? value.toString() : undefined;
  return typeof value === "string" ? value : undefined;
}

/**
 * Classifies what the read script returned for one key (values as Buffers, or strings): a hash, or a string holding
 * JSON, whose `timeField` is a readable time is a record (payload as JSON text for `jsonb` — a string record's bytes
 * as read —, a digest of the exact Redis content, and what the compare-and-delete script checks: a string's digest
 * and length, a hash's field/value pairs as read); a hash or JSON
 * string without one is undatable; anything else (another type, a string that is not JSON, bytes that are not UTF-8,
 * content Postgres' `jsonb` cannot hold) is other.
 */
export function classify(redisType: string, content: unknown, timeField: string): Classified {
  if (redisType === "none") return { state: "gone" };
  if (redisType === "hash" && Array.isArray(content)) {
    const pairs: Array<[string, string, string | Buffer, string | Buffer]> = [];
    let bytes = 0;
    for (let i = 0; i + 1 < content.length; i += 2) {
      const field = text(content[i]);
      const value = text(content[i + 1]);
      if (field === undefined || value === undefined) return { state: "other" };
      pairs.push([field, value, content[i] as string | Buffer, content[i + 1] as string | Buffer]);
      bytes += Buffer.byteLength(content[i] as string | Buffer) + Buffer.byteLength(content[i + 1] as string | Buffer);
    }
    const object: Record<string, string> = {};
    for (const [field, value] of pairs) object[field] = value;
    const payload = JSON.stringify(object);
    if (payload.includes("\\u0000")) return { state: "other" }; // jsonb cannot hold NUL
    const time = readTime(timeField.includes(".") && !Object.hasOwn(object, timeField) ? property(object, timeField) : object[timeField]);
    if (time === undefined) return { state: "undatable", redisType: "hash" };
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const digest = hash("sha1", `h${JSON.stringify(pairs.map(([f, v]) => [f, v]))}`, "hex");
    return { state: "record", redisType: "hash", payload, time, digest, bytes, expected: pairs.flatMap(([, , f, v]) => [f, v]) };
  }
  if (redisType === "string" && (typeof content === "string" || Buffer.isBuffer(content))) {
    const value = text(content);
    if (value === undefined) return { state: "other" };
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return { state: "other" };
    }
    if (value.includes("\\u0000")) return { state: "other" }; // jsonb cannot hold NUL
    const time = readTime(property(parsed, timeField));
    if (time === undefined) return { state: "undatable", redisType: "string" };
    const digest = hash("sha1", `s${value}`, "hex"); // a joined string hashes faster than bytes copied after an "s"
    const bytes = Buffer.byteLength(content);
    return { state: "record", redisType: "string", payload: content, time, digest, bytes, expected: [digest, String(bytes)] };
  }
  return { state: "other" };
}

/**
 * A `SCAN MATCH` glob as a regular expression whose groups capture what each `*` matched; the record's index
 * member is the last capture (the whole key when the pattern has no `*`).
 */
export function globToRegExp(glob: string): RegExp {
  let source = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") source += "(.*)";
    else if (c === "?") source += ".";
    else if (c === "\\" && i + 1 < glob.length) source += escape(glob[++i]!);
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) source += "\\[";
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith("^")) body = `^${body.slice(1).replace(/[\\\]]/g, "\\$&")}`;
        else body = body.replace(/[\\\]^]/g, "\\$&");
        source += `[${body}]`;
        i = end;
      }
    } else source += escape(c);
  }
  return new RegExp(`${source}$`, "s");
}

function escape(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** The index member of `key` under `pattern`: what its last `*` matched, else the key itself. */
export function indexMember(pattern: RegExp, key: string): string {
  const match = pattern.exec(key);
  if (!match || match.length < 2) return key;
  return match[match.length - 1] ?? key;
}
