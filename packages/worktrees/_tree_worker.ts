/*
 * Entry point of a worktrees worker thread (`startModuleWorker(import.meta.url, "_tree_worker")` in `_tree_pool.ts`):
 * answers each walk or delete task with its result.
 */
import { parentPort } from "node:worker_threads";
import { runTreeTask, type TreeTask } from "./_tree_tasks.ts";

const port = parentPort;
if (port === null) throw new Error("_tree_worker.ts runs only as a worker thread");
port.on("message", (task: TreeTask) => port.postMessage(runTreeTask(task)));
