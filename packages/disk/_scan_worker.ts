/*
 * Entry point of a disk walk's worker thread (`new Worker(SCAN_WORKER_URL, { workerData: config })` in `_scan.ts`):
 * builds the chunk processor for the walk's config and answers each chunk message with its result.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { ChunkConfig } from "./_scan_config.ts";
import { makeChunkProcessor, type ChunkTask } from "./_scan_chunk.ts";

const port = parentPort;
if (port === null) throw new Error("_scan_worker.ts runs only as a worker thread");
const processChunk = makeChunkProcessor(workerData as ChunkConfig);
port.on("message", (task: ChunkTask) => port.postMessage(processChunk(task)));
