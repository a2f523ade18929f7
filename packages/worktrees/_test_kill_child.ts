// Test child: one real pass over argv[2] whose deletion stalls after the first subtree (its progress callback blocks
// the thread that hands out work), so the test can SIGKILL it in the middle of the background delete.
import { writeSync } from "node:fs";
import { cleanWorktrees } from "./clean_worktrees.ts";
import { SIXTY_DAYS } from "./_test_repo.ts";
import { DEFAULT_ARTIFACTS } from "./worktrees_options.ts";

await cleanWorktrees({
  repos: [process.argv[2]!],
  days: 30,
  artifacts: [...DEFAULT_ARTIFACTS],
  keep: [],
  cwd: "/",
  threads: 1,
  now: () => Date.now() + SIXTY_DAYS,
  onProgress(progress) {
    if (progress.phase === "delete" && progress.done > 0) {
      writeSync(1, "stalled\n");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // forever, until the kill
    }
  },
});
writeSync(1, "finished\n");
