// Test-only module hook for this package's forked children: with RECLAIM_TEST_LEAN_CORE=1, `@reclaim/core`
// resolves to _test_lean_core.ts (the same core sources, fewer of them, so hundreds of forks start faster).
// `.ts` files are transpiled by core's loader (`forkTs()` from `@reclaim/core/testing`).
export async function resolve(specifier, context, nextResolve) {
  if (specifier === "@reclaim/core" && process.env.RECLAIM_TEST_LEAN_CORE === "1") {
    return { url: new URL("./_test_lean_core.ts", import.meta.url).href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
