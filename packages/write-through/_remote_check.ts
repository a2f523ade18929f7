import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { trustedUrl, type RemoteBase } from "./_remote_url.ts";

/** Redirects followed at most, all inside the trusted base. */
const MAX_REDIRECTS = 5;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** The answer to `HEAD`, after the redirects that stayed inside the trusted base; or why there is none. */
export type HeadAnswer = { ok: true; response: Response; url: string } | { ok: false; reason: string; retry: boolean };

/**
 * `HEAD url`, following a redirect only while its target is inside `trusted` (same origin, under its path):
 * a redirect anywhere else is not followed and the copy counts as unverified (`retry: false`: it would redirect
 * there again).
 */
export async function headInside(url: string, trusted: RemoteBase, timeoutMs: number): Promise<HeadAnswer> {
  const signal = AbortSignal.timeout(timeoutMs);
  let current = url;
  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      response = await fetch(current, { method: "HEAD", redirect: "manual", signal });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { ok: false, reason: `HEAD failed: ${(err as Error).name === "TimeoutError" ? "timed out" : (cause ?? (err as Error).message)}`, retry: true };
    }
    if (!REDIRECTS.has(response.status)) return { ok: true, response, url: current };
    const location = response.headers.get("location");
    if (location === null) return { ok: false, reason: `HEAD returned ${response.status} without a Location`, retry: true };
    let next: string;
    try {
      next = new URL(location, current).href;
    } catch {
      return { ok: false, reason: `HEAD returned ${response.status} to an invalid Location`, retry: false };
    }
    if (trustedUrl(next, trusted) === null) {
      const target = URL.canParse(next) ? new URL(next).origin + new URL(next).pathname : next;
      return { ok: false, reason: `HEAD redirected outside the trusted base ${trusted.origin}${trusted.path} (to ${target}): not verified`, retry: false };
    }
    if (hop >= MAX_REDIRECTS) return { ok: false, reason: `HEAD redirected more than ${MAX_REDIRECTS} times`, retry: false };
    current = next;
  }
}

/** A content checksum the remote states, as lower-case hex. */
export interface StatedChecksum {
  /** Where it was stated: `x-amz-checksum-sha256`, `Content-MD5`, `Digest sha-256`, `Digest md5`, `ETag (MD5)`. */
  source: string;
  algorithm: "md5" | "sha256";
  hex: string;
}

function base64Hex(value: string, bytes: number): string | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
  const buffer = Buffer.from(value, "base64");
  return buffer.length === bytes ? buffer.toString("hex") : null;
}

/**
 * The content checksums a `HEAD` answer states, and notes on headers that look like one but are not (a
 * multipart ETag, a weak ETag, a composite `x-amz-checksum-sha256`): an S3/R2 single-part `ETag` is the MD5 of
 * the content; `x-amz-checksum-sha256` and `Content-MD5` are base64; `Digest` (RFC 3230) lists `sha-256=` and
 * `md5=` in base64.
 */
export function statedChecksums(headers: Headers): { checksums: StatedChecksum[]; notes: string[] } {
  const checksums: StatedChecksum[] = [];
  const notes: string[] = [];
  const amz = headers.get("x-amz-checksum-sha256")?.trim();
  if (amz) {
    const hex = base64Hex(amz, 32);
    if (hex) checksums.push({ source: "x-amz-checksum-sha256", algorithm: "sha256", hex });
    else notes.push(`x-amz-checksum-sha256 ${JSON.stringify(amz)} is not the SHA-256 of the whole object (a multipart composite?)`);
  }
  const md5 = headers.get("content-md5")?.trim();
  if (md5) {
    const hex = base64Hex(md5, 16);
    if (hex) checksums.push({ source: "Content-MD5", algorithm: "md5", hex });
    else notes.push(`Content-MD5 ${JSON.stringify(md5)} is not a base64 MD5`);
  }
  const digest = headers.get("digest");
  if (digest) {
    for (const part of digest.split(",")) {
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      const algorithm = part.slice(0, eq).trim().toLowerCase();
      const value = part.slice(eq + 1).trim();
      if (algorithm === "sha-256") {
        const hex = base64Hex(value, 32);
        if (hex) checksums.push({ source: "Digest sha-256", algorithm: "sha256", hex });
      } else if (algorithm === "md5") {
        const hex = base64Hex(value, 16);
        if (hex) checksums.push({ source: "Digest md5", algorithm: "md5", hex });
      }
    }
  }
  const etag = headers.get("etag")?.trim();
  if (etag) {
    const strong = /^"([0-9a-fA-F]{32})"$/.exec(etag);
    if (strong) checksums.push({ source: "ETag (MD5)", algorithm: "md5", hex: strong[1]!.toLowerCase() });
    else if (/^"[0-9a-fA-F]{32}-\d+"$/.test(etag)) notes.push(`ETag ${etag} is a multipart ETag, not an MD5 of the content`);
    else if (etag.startsWith("W/")) notes.push(`ETag ${etag} is weak, not a checksum`);
  }
  return { checksums, notes };
}

/** The MD5 and/or SHA-256 of a file, as lower-case hex, read once. */
export async function hashFile(path: string, algorithms: ReadonlySet<"md5" | "sha256">): Promise<Partial<Record<"md5" | "sha256", string>>> {
  const hashes = [...algorithms].map((algorithm) => ({ algorithm, hash: createHash(algorithm) }));
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) for (const { hash } of hashes) hash.update(chunk as Buffer);
  return Object.fromEntries(hashes.map(({ algorithm, hash }) => [algorithm, hash.digest("hex")]));
}
