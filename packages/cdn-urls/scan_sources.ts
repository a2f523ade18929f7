import { open, stat } from "node:fs/promises";
import { join } from "node:path";

/** One line of source that hard-codes a CDN host. */
export interface SourceHit {
  /** Path relative to the scanned folder, with `/`. */
  path: string;
  /** 1-based line number. */
  line: number;
  /** The line, trimmed (at most 200 characters). */
  text: string;
  host: string;
}

/** Files larger than this are skipped (bundles, data). */
const MAX_FILE_BYTES = 5 * 1024 * 1024;

function hostRegExp(hosts: readonly string[]): RegExp {
  const names = hosts.map((host) => host.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/[/:?#].*$/s, "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`(?<![a-z0-9.-])(${names.join("|")})(?![a-z0-9-])`, "gi");
}

/**
 * Lists the lines of text files under `dir` that hard-code one of the CDN `hosts` (case-insensitive, whole host
 * names only), skipping what `.gitignore` files ignore, `.git`, binary files and files over 5 MiB.
 *
 * @example
 * ```ts
 * const hits = await scanSources("apps/studio", ["cdn.example.ai"]);
 * for (const hit of hits) console.log(`${hit.path}:${hit.line}: ${hit.text}`);
 * ```
 */
export async function scanSources(dir: string, hosts: readonly string[]): Promise<SourceHit[]> {
  const pattern = hostRegExp(hosts);
  if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error(`${dir} is not a folder`), { code: "ENOTDIR" });
  // Loaded here, not at the top: globby (~19 MiB resident) is for this verb only, not for every process with the hook.
  const { globby } = await import("globby");
  const files = await globby("**/*", { cwd: dir, gitignore: true, dot: true, onlyFiles: true, followSymbolicLinks: false, ignore: ["**/.git/**"] });
  files.sort();
  const hits: SourceHit[] = [];
  for (const file of files) {
    const handle = await open(join(dir, file), "r").catch(() => undefined);
    if (!handle) continue;
    try {
      const { size } = await handle.stat();
      if (size > MAX_FILE_BYTES) continue;
      const buffer = await handle.readFile();
      if (buffer.subarray(0, 8192).includes(0)) continue;
      const lines = buffer.toString("utf8").split(/\r?\n/);
      lines.forEach((text, index) => {
        pattern.lastIndex = 0;
        const match = pattern.exec(text);
        if (match) hits.push({ path: file, line: index + 1, text: text.trim().slice(0, 200), host: (match[1] ?? "").toLowerCase() });
      });
    } finally {
      await handle.close();
    }
  }
  return hits;
}
