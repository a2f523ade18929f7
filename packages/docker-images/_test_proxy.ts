/**
 * A pass-through proxy in front of the real Docker engine's socket, for tests: it records every request dockerode
 * sends (to pin the exact filter and removal flags on the wire) and can answer a chosen request itself (to inject
 * an engine fault) or rewrite a response body (to play an engine that ignores a filter). Everything else reaches
 * the real engine unchanged.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

export interface ProxyBehaviour {
  /** Return a status code to answer the request with an error instead of forwarding it. */
  fail?(req: RecordedRequest): number | undefined;
  /** Return a new JSON body for a forwarded request's response, or undefined to pass it through. */
  rewrite?(req: RecordedRequest, body: unknown): unknown;
}

export interface DockerProxy extends AsyncDisposable {
  readonly socketPath: string;
  readonly requests: RecordedRequest[];
}

export function engineSocketPath(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}

export async function dockerProxy(behaviour: ProxyBehaviour = {}): Promise<DockerProxy> {
  const dir = await mkdtemp(join(tmpdir(), "reclaim-docker-proxy-"));
  const socketPath = join(dir, "docker.sock");
  const requests: RecordedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://docker");
    // Strip an API version prefix (/v1.41/images/json -> /images/json) so tests match on the route.
    const recorded: RecordedRequest = { method: req.method ?? "GET", path: url.pathname.replace(/^\/v\d+\.\d+/, ""), query: url.searchParams };
    requests.push(recorded);
    const status = behaviour.fail?.(recorded);
    if (status !== undefined) {
      req.resume();
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ message: `injected by the test proxy (${status})` }));
      return;
    }
    const upstream = request({ socketPath: engineSocketPath(), path: req.url, method: req.method, headers: req.headers }, (upRes) => {
      if (!behaviour.rewrite || !(upRes.headers["content-type"] ?? "").includes("json")) {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      upRes.on("data", (chunk: Buffer) => chunks.push(chunk));
      upRes.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        const replaced = behaviour.rewrite!(recorded, text ? JSON.parse(text) : null);
        const body = replaced === undefined ? text : JSON.stringify(replaced);
        const { "content-length": _length, "transfer-encoding": _encoding, ...headers } = upRes.headers;
        res.writeHead(upRes.statusCode ?? 502, { ...headers, "content-length": Buffer.byteLength(body) }).end(body);
      });
    });
    upstream.on("error", (err) => res.writeHead(502).end(err.message));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    requests,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
