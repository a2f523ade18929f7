// Builds the benchmark tree: 200,000 files (by default) across the four media folders, every other file older
// than 7 days. Flat folders (images, videos) and nested ones (voice/dNN, bid-images/sNN), as a service writes them.
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function buildTree(root, total = 200_000, { bytes = 10 } = {}) {
  const old = (Date.now() - 10 * 86_400_000) / 1000;
  const shape = [
    ["images", 0.5, 0],
    ["videos", 0.25, 0],
    ["voice", 0.15, 30],
    ["bid-images", 0.1, 100],
  ];
  const content = Buffer.alloc(bytes, 120);
  let written = 0;
  for (const [dir, share, subdirs] of shape) {
    const count = Math.round(total * share);
    mkdirSync(join(root, dir), { recursive: true });
    for (let s = 0; s < subdirs; s++) mkdirSync(join(root, dir, `d${s}`), { recursive: true });
    for (let i = 0; i < count; i++) {
      const path = subdirs ? `${root}/${dir}/d${i % subdirs}/f${i}-5f2c9e1a.png` : `${root}/${dir}/f${i}-5f2c9e1a.png`;
      writeFileSync(path, content);
      if (written++ % 2 === 0) utimesSync(path, old, old);
    }
  }
  return written;
}
