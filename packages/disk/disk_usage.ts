import { statfsSync } from "node:fs";

/** Usage of the filesystem holding a path, from `statfs`. */
export interface DiskUsage {
  /** Size of the filesystem. */
  totalBytes: number;
  /** Bytes in use (`blocks - bfree`). */
  usedBytes: number;
  /** Bytes an unprivileged process can still write (`bavail`). */
  freeBytes: number;
  /** `used / (used + free)`, as `df` computes Use%: the root-reserved blocks do not count as free. */
  usedRatio: number;
}

/**
 * Reads the usage of the filesystem that holds `path` (`statfs`).
 *
 * @example
 * ```ts
 * const { usedRatio, freeBytes } = readDiskUsage("/app/.data");
 * if (usedRatio > 0.7) console.log(`only ${freeBytes} bytes left`);
 * ```
 */
export function readDiskUsage(path: string): DiskUsage {
  const st = statfsSync(path);
  const usedBytes = (st.blocks - st.bfree) * st.bsize;
  const freeBytes = st.bavail * st.bsize;
  const denominator = usedBytes + freeBytes;
  return { totalBytes: st.blocks * st.bsize, usedBytes, freeBytes, usedRatio: denominator === 0 ? 0 : usedBytes / denominator };
}

/** One used-bytes sample for the forecast. */
export interface UsageSample {
  /** Epoch milliseconds. */
  at: number;
  usedBytes: number;
}

/**
 * Seconds until the filesystem is full at the current growth rate: least-squares slope of `usedBytes` over
 * time across `samples`, then `freeBytes / slope`. Returns -1 with fewer than 3 samples or when usage is not
 * growing.
 *
 * @example
 * ```ts
 * forecastSecondsUntilFull([{ at: 0, usedBytes: 0 }, { at: 1000, usedBytes: 10 }, { at: 2000, usedBytes: 20 }], 100);
 * // 10 (10 bytes per second, 100 bytes free)
 * ```
 */
export function forecastSecondsUntilFull(samples: readonly UsageSample[], freeBytes: number): number {
  if (samples.length < 3) return -1;
  let meanT = 0;
  let meanU = 0;
  for (const s of samples) {
    meanT += s.at;
    meanU += s.usedBytes;
  }
  meanT /= samples.length;
  meanU /= samples.length;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.at - meanT) * (s.usedBytes - meanU);
    den += (s.at - meanT) ** 2;
  }
  if (den === 0) return -1;
  const bytesPerSecond = (num / den) * 1000;
  if (!(bytesPerSecond > 0)) return -1;
  return Math.max(0, freeBytes / bytesPerSecond);
}
