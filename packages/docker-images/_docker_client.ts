import Dockerode from "dockerode";

/** A Dockerode client, or the connection options to build one with. */
export type DockerConnection = Dockerode | Dockerode.DockerOptions;

/**
 * Returns `docker` when it is already a client, otherwise a new client built from the connection options.
 * Without options, dockerode reads `DOCKER_HOST` (plus `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`) and falls back to
 * `/var/run/docker.sock`.
 */
export function resolveDocker(docker: DockerConnection | undefined): Dockerode {
  if (isClient(docker)) return docker;
  if (docker?.socketPath !== undefined && docker.host === undefined) {
    // docker-modem merges DOCKER_HOST (and its TLS files) from the environment under the options given: a tcp://
    // DOCKER_HOST would win over an explicit socket path, so clear what it would bring in.
    const fromEnvironment = { host: undefined, port: undefined, protocol: undefined, ca: undefined, cert: undefined, key: undefined };
    return new Dockerode({ ...fromEnvironment, ...docker } as Dockerode.DockerOptions);
  }
  return new Dockerode(docker);
}

/**
 * Turns a `DOCKER_HOST`-style address (`unix:///var/run/docker.sock`, `tcp://10.0.0.5:2375`, `http://...`,
 * `https://...`) into dockerode connection options. Returns the reason as a string when it cannot.
 */
export function dockerHostOptions(host: string): Dockerode.DockerOptions | string {
  if (host.startsWith("unix://")) {
    const socketPath = host.slice("unix://".length);
    return socketPath.startsWith("/") ? { socketPath } : "must be unix:///absolute/path";
  }
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return "must be a Docker host such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375";
  }
  const protocol = url.protocol === "https:" ? "https" : url.protocol === "http:" || url.protocol === "tcp:" ? "http" : undefined;
  if (!protocol || !url.hostname) return "must use unix://, tcp://, http:// or https:// (use DOCKER_HOST for ssh://)";
  return { protocol, host: url.hostname, port: url.port || (protocol === "https" ? "2376" : "2375") };
}

function isClient(docker: DockerConnection | undefined): docker is Dockerode {
  // Duck-typed rather than `instanceof`, so a client from another copy of dockerode is accepted too.
  return typeof (docker as Partial<Dockerode> | undefined)?.listImages === "function";
}
