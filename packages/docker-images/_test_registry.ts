/**
 * A push-only registry for tests (the part of the Distribution API `docker push` uses), on 127.0.0.1 — which the
 * engine treats as an insecure registry by default, so plain HTTP works. Pushing an image to it makes the engine
 * record a registry digest (`RepoDigests`) for the image, without any real registry.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface TestRegistry extends AsyncDisposable {
  /** `127.0.0.1:<port>`: prefix of the image names to push. */
  readonly host: string;
}

export async function testRegistry(): Promise<TestRegistry> {
  const blobs = new Set<string>();
  const uploads = new Map<string, number>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://registry");
    const path = url.pathname;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const size = body.length;
      res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
      let m: RegExpMatchArray | null;
      if (path === "/v2/") {
        res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
      } else if ((m = path.match(/^\/v2\/(.+)\/blobs\/uploads\/$/)) && req.method === "POST") {
        const id = randomUUID();
        uploads.set(id, 0);
        res.writeHead(202, { Location: `/v2/${m[1]}/blobs/uploads/${id}`, "Docker-Upload-UUID": id, Range: "0-0", "Content-Length": 0 }).end();
      } else if ((m = path.match(/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/))) {
        const total = (uploads.get(m[2]!) ?? 0) + size;
        uploads.set(m[2]!, total);
        if (req.method === "PATCH") {
          res.writeHead(202, { Location: `/v2/${m[1]}/blobs/uploads/${m[2]}`, "Docker-Upload-UUID": m[2], Range: `0-${Math.max(0, total - 1)}`, "Content-Length": 0 }).end();
        } else {
          const digest = url.searchParams.get("digest") ?? "";
          blobs.add(digest);
          res.writeHead(201, { Location: `/v2/${m[1]}/blobs/${digest}`, "Docker-Content-Digest": digest, "Content-Length": 0 }).end();
        }
      } else if ((m = path.match(/^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]+)$/)) && req.method === "HEAD") {
        res.writeHead(blobs.has(m[2]!) ? 200 : 404, { "Content-Length": 0 }).end();
      } else if ((m = path.match(/^\/v2\/(.+)\/manifests\/([^/]+)$/)) && req.method === "PUT") {
        // The digest of a manifest is the SHA-256 of its bytes, as a real registry answers.
        const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
        res.writeHead(201, { Location: `/v2/${m[1]}/manifests/${digest}`, "Docker-Content-Digest": digest, "Content-Length": 0 }).end();
      } else {
        res.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ errors: [{ code: "UNSUPPORTED" }] }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

