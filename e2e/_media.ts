import { createHash } from "node:crypto";

/**
 * The bytes e2e/fixtures/seed.mjs writes for a media file of that name and size (sha256(name) repeated), so a test
 * can put the identical file on the CDN.
 *
 * @example
 * ```ts
 * mediaBytes("a.png", 1024).length; // 1024
 * ```
 */
export function mediaBytes(name: string, bytes: number): Buffer {
  const block = createHash("sha256").update(name).digest();
  const out = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i += block.length) block.copy(out, i, 0, Math.min(block.length, bytes - i));
  return out;
}
