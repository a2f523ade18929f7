import { z } from "zod";
import { duration } from "./options.ts";

export const runnerOptionsSchema = z.strictObject({
  interval: duration().default(3_600_000).refine((ms) => ms >= 1, "must be at least 1ms"),
  initialDelay: duration().default(60_000),
  jitter: duration().default(0),
  stopTimeout: duration().default(10_000),
  lockTtl: duration().refine((ms) => ms >= 1_000, "must be at least 1s").optional(),
  dryRun: z.boolean().default(false),
  enabled: z.boolean().optional(),
});
