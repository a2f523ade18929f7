import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A process that uses a path: its pid, command name and how (`cwd`, `fd`, `map`, `exe`, `root`). */
export interface ProcessUse {
  pid: number;
  command: string;
  how: "cwd" | "root" | "exe" | "fd" | "map";
  path: string;
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * The first live process (other than this one) whose current directory, root, executable, an open file or a
 * mapped file (a loaded native module keeps no descriptor) is `dir` or under it, read from `/proc`. Processes that
 * vanish or cannot be read are passed over; `null` when none uses it. `dir` must be a real path (`/proc` shows
 * real paths).
 */
export function processUsing(dirs: readonly string[]): Map<string, ProcessUse> {
  const found = new Map<string, ProcessUse>();
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return found;
  }
  const remaining = () => dirs.filter((d) => !found.has(d));
  for (const name of pids) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    if (remaining().length === 0) break;
    const base = `/proc/${name}`;
    const note = (how: ProcessUse["how"], path: string) => {
      for (const dir of remaining()) {
        if (inside(path.replace(/ \(deleted\)$/, ""), dir)) found.set(dir, { pid, command: commandOf(base), how, path });
      }
    };
    for (const how of ["cwd", "root", "exe"] as const) {
      try {
        const target = readlinkSync(`${base}/${how}`);
        if (how !== "root" || target !== "/") note(how, target);
      } catch {
        // gone, a kernel thread, or not ours to read
      }
    }
    try {
      for (const fd of readdirSync(`${base}/fd`)) {
        try {
          const target = readlinkSync(`${base}/fd/${fd}`);
          if (target.startsWith("/")) note("fd", target);
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // gone or unreadable
    }
    try {
      const maps = readFileSync(`${base}/maps`, "utf8");
      for (const line of maps.split("\n")) {
        const slash = line.indexOf("/");
        if (slash > 0) note("map", line.slice(slash));
      }
    } catch {
      // gone or unreadable
    }
  }
  return found;
}

function commandOf(base: string): string {
  try {
    return readFileSync(`${base}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}
