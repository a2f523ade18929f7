import { workerFleetScenario } from "./scenarios/worker_fleet.ts";
import { worktreesScenario } from "./scenarios/worktrees.ts";

// Scenarios that run the built `reclaim` command on this host, as a user who installed it runs it (`reclaim start
// -c FILE`, `reclaim worktrees`), against the real Redis and Postgres of scripts/services.sh and real git
// repositories. No image and no Docker engine needed; `pnpm build` first (`pnpm test:e2e` does it).
// One scenario: `npx vitest run --project e2e -t "worker fleet"` (or "worktrees").
workerFleetScenario();
worktreesScenario();
