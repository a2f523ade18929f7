import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** What the loopback "CDN" answers for a path. */
export interface RemoteObject {
  status?: number;
  /** Content-Length to announce; `null` sends none. */
  length?: number | null;
  /** Never answer (to exercise timeouts). */
  hang?: boolean;
  /** More response headers (`etag`, `content-md5`, `x-amz-checksum-sha256`, `digest`, ...). */
  headers?: Record<string, string>;
  /** Answer with a redirect (status 302 unless `status` says otherwise) to this Location. */
  redirect?: string;
}

/** A real HTTP server on 127.0.0.1 that answers HEAD from a table; closed on dispose. */
export interface FakeCdn extends AsyncDisposable {
  readonly base: string;
  readonly objects: Map<string, RemoteObject>;
  /** Requests received, as "METHOD /path". */
  readonly requests: string[];
}

export async function startCdn(): Promise<FakeCdn> {
  const objects = new Map<string, RemoteObject>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const object = objects.get(req.url ?? "");
    if (object?.hang) return;
    if (!object) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = { ...object.headers };
    if (object.redirect !== undefined) {
      res.writeHead(object.status ?? 302, { ...headers, location: object.redirect }).end();
      return;
    }
    if (object.length !== null && object.length !== undefined) headers["content-length"] = String(object.length);
    res.writeHead(object.status ?? 200, headers);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    objects,
    requests,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
