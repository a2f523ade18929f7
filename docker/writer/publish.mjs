// The service's end-of-publish step, as a command: records files as published (uploaded to the CDN) in the
// publish journal that reclaim's write-through hook consumes, through @reclaim/write-through's recordPublished.
//
//   node /app/writer/publish.mjs images/a.png videos/b.mp4              # URL = the hook's remote.baseUrl + path
//   node /app/writer/publish.mjs images/a.png=https://cdn.example/images/a.png
//
// Paths are relative to $RECLAIM_DATA_DIR (default /app/.data).
import { recordPublished } from "@reclaim/write-through";

const root = process.env.RECLAIM_DATA_DIR || "/app/.data";
const files = process.argv.slice(2).map((arg) => {
  const at = arg.indexOf("=");
  return at < 0 ? { path: arg } : { path: arg.slice(0, at), url: arg.slice(at + 1) };
});
if (files.length === 0) {
  console.error("usage: publish.mjs PATH[=URL]...");
  process.exit(2);
}
await recordPublished(root, files);
process.stdout.write(`${JSON.stringify({ name: "publish", msg: "recorded published files", files })}\n`);
