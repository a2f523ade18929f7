import type Dockerode from "dockerode";

/** The managed scan: dangling AND carrying the label, AND-ed by the engine. Pinned by a test; never widen it. */
export function managedDanglingFilter(label: string): { dangling: string[]; label: string[] } {
  return { dangling: ["true"], label: [label] };
}

/** The census behind the `scope` gauges: every dangling image, labelled or not. Read-only. */
export function allDanglingFilter(): { dangling: string[] } {
  return { dangling: ["true"] };
}

/**
 * Whether `labels` satisfy a label filter the way the engine reads it: `key=value` needs that exact value,
 * a bare `key` accepts any value.
 */
export function carriesLabel(labels: Readonly<Record<string, string>> | null | undefined, label: string): boolean {
  if (!labels) return false;
  const eq = label.indexOf("=");
  if (eq === -1) return Object.hasOwn(labels, label);
  const key = label.slice(0, eq);
  return Object.hasOwn(labels, key) && labels[key] === label.slice(eq + 1);
}

/** True when no tag points at the image (the engine shows `<none>:<none>` for those on older API versions). */
export function isUntagged(image: Dockerode.ImageInfo): boolean {
  return (image.RepoTags ?? []).every((tag) => tag === "<none>:<none>");
}

/**
 * True when the image has a registry digest (`RepoDigests` other than the `<none>@<none>` placeholder): it was pulled
 * by digest, or pushed before its tag moved to a newer build. The engine's `dangling=true` filter lists such an image
 * when it has no tag (Docker 20.10, checked on the engine), but it is a registry artefact someone may pin by digest
 * (`image: app@sha256:...`), not leftover of a re-tag: the hook never removes it.
 */
export function hasRegistryDigest(image: Dockerode.ImageInfo): boolean {
  return (image.RepoDigests ?? []).some((digest) => digest !== "<none>@<none>");
}

/**
 * Bytes an image holds: its size minus the layers it shares with other images when the engine reports that
 * (`SharedSize`, API >= 1.42), else its full size (an upper bound when layers are shared).
 */
export function imageBytes(image: Dockerode.ImageInfo): number {
  const size = Math.max(0, image.Size ?? 0);
  const shared = image.SharedSize ?? -1;
  return shared >= 0 ? Math.max(0, size - shared) : size;
}

/** `sha256:0123456789ab...` -> `0123456789ab` for log lines. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}
