import type { Logger } from "@reclaim/core";
import type { ReclaimConfig } from "./config.ts";

/** At daemon start: one structured `disk-audit` log line for the disk hook's root (what fills the disk). */
export async function startupAudit(config: ReclaimConfig, logger: Logger): Promise<void> {
  // Wired to @reclaim/disk's audit once that package lands.
  void config;
  void logger;
}
